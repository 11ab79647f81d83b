//! The client: Modal's Secret operations (WIRE.md, "Semantics").
//!
//! Everything a call decides lives here: argument checks, the request message, headers, the retry
//! loop with its waits and deadline, reading the answer. Each operation is an [`Operation`], a state
//! machine with no I/O of its own (client/operation.rs): the npm package drives it from JavaScript
//! with `fetch` and timers (src/operation.rs, src/js/host.js), the native tests through
//! [`Client::run`] over a [`Transport`] (client/native.rs).
//!
//! - [`Client`]: the settings of one connection (URL, token, environment, timeout, retries).
//! - [`Source`] and [`Client::hydrate`]: what `Secret.fromName` / `fromDict` stand for, and turning
//!   that into a [`SecretRecord`] (a lookup, or an ephemeral create).
//! - [`Listing`]: `Secret.objects.list` one page at a time, as Modal's clients page.

mod listing;
mod model;
mod native;
mod operation;

use std::time::Duration;

use crate::config::Config;
use crate::error::Error;
use crate::grpc_web::{Limits, Protocol, RequestHeaders};
use crate::redact::Redacted;
use crate::retry::RetryPolicy;
use crate::validate;

pub use listing::{LIST_PAGE_BYTE_BUDGET, LIST_PAGE_SIZE, Listing, Page, PageRequest};
pub use model::{EnvDict, SecretRecord, Source, Update, check_updates};
pub use native::Transport;
pub use operation::{Action, Next, Operation, Outcome, Target};

/// `x-modal-client-type`: LIBMODAL_JS (8). This package speaks Modal's API as Modal's JS SDK does,
/// so it announces itself the same way, with the protocol version that SDK sends beside it.
pub const CLIENT_TYPE: i32 = 8;
pub const CLIENT_VERSION: &str = "1.0.0";

/// The largest request message sent: gRPC's customary 4 MiB receive limit. A bigger one is refused
/// before it leaves, with the size in the message.
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

/// The longest `timeout` accepted: JS timers cannot wait longer than 2^31 - 1 ms.
pub const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// One HTTP POST for the transport to send.
#[derive(Debug)]
pub struct Request<'a> {
    pub url: &'a str,
    pub headers: &'a RequestHeaders,
    pub body: &'a [u8],
    /// Give up (with [`Error::Timeout`]) when no complete answer came within this time.
    pub timeout: Option<Duration>,
}

/// The whole HTTP answer, as received.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// HTTP/2 trailers ([`Protocol::Grpc`]); gRPC-web carries its trailers in the body.
    pub trailers: Vec<(String, String)>,
}

/// Per-call settings that override the client's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallOptions {
    /// The whole call, retries and waits included; `None`: the client's timeout.
    pub timeout: Option<Duration>,
}

/// A configured client: where to connect, as whom, and how patiently. `Debug` shows no secret.
#[derive(Clone, Debug)]
pub struct Client {
    server_url: String,
    host: String,
    token_id: String,
    token_secret: Redacted<String>,
    environment: String,
    policy: RetryPolicy,
    timeout: Option<Duration>,
    limits: Limits,
    protocol: Protocol,
}

/// Settings beyond the [`Config`]: the JS options `timeoutMs`, `maxRetries` and `transport`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tuning {
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub protocol: Protocol,
}

/// The protocol of a client from its options: `transport` ("http2", "fetch" or none), whether a
/// `fetch` was given, and whether the runtime has node:http2. With neither option, HTTP/2 where the
/// runtime has it (the only way to reach Modal's own API), else gRPC-web over fetch.
pub fn choose_protocol(
    transport: Option<&str>,
    fetch_given: bool,
    http2_available: bool,
) -> Result<Protocol, Error> {
    match transport {
        None if fetch_given || !http2_available => Ok(Protocol::GrpcWeb),
        None => Ok(Protocol::Grpc),
        Some("fetch") => Ok(Protocol::GrpcWeb),
        Some("http2") if fetch_given => Err(Error::invalid(
            "transport \"http2\" does not use options.fetch: pass one or the other",
        )),
        Some("http2") if !http2_available => Err(Error::invalid(
            "transport \"http2\" needs node:http2 (Node, Deno, Bun); this runtime has only \
             fetch (transport \"fetch\", through a modal-secrets-server gateway for Modal's API)",
        )),
        Some("http2") => Ok(Protocol::Grpc),
        Some(other) => Err(Error::invalid(format!(
            "transport must be \"http2\" or \"fetch\", got {}",
            validate::quote(other)
        ))),
    }
}

/// The most retries accepted for `maxRetries` (each waits at most 1 s).
pub const MAX_RETRIES: u32 = 100;

impl Client {
    /// A client for `config`; fails with the `AuthError` of [`Config::credentials`] when there is no
    /// token, and with an `InvalidError` for a timeout or retry count out of range.
    pub fn new(config: &Config, tuning: Tuning) -> Result<Client, Error> {
        let (token_id, token_secret) = config.credentials()?;
        if let Some(t) = tuning.timeout {
            check_timeout(t, "timeoutMs")?;
        }
        let mut policy = RetryPolicy {
            max_throttle_wait: config.max_throttle_wait,
            ..RetryPolicy::default()
        };
        if let Some(n) = tuning.max_retries {
            if n > MAX_RETRIES {
                return Err(Error::invalid(format!(
                    "maxRetries must be at most {MAX_RETRIES}, got {n}"
                )));
            }
            policy.max_retries = n;
        }
        validate::environment_name(&config.environment)?;
        Ok(Client {
            host: host_of(&config.server_url).to_owned(),
            server_url: config.server_url.clone(),
            token_id: token_id.to_owned(),
            token_secret: token_secret.clone(),
            environment: config.environment.clone(),
            policy,
            timeout: tuning.timeout,
            limits: Limits::default(),
            protocol: tuning.protocol,
        })
    }

    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    pub fn token_id(&self) -> &str {
        &self.token_id
    }

    /// The default environment of this client's calls ("" = the workspace's default).
    pub fn environment(&self) -> &str {
        &self.environment
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.policy
    }

    /// What the client speaks: gRPC-web (over fetch) or plain gRPC (over HTTP/2).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The environment a call uses: the one it names, else the client's.
    fn environment_for(&self, explicit: Option<&str>) -> Result<String, Error> {
        match explicit {
            Some(name) => {
                validate::environment_name(name)?;
                Ok(name.to_owned())
            }
            None => Ok(self.environment.clone()),
        }
    }
}

/// A request message of `len` bytes must fit [`MAX_REQUEST_BYTES`].
fn check_request_size(len: usize) -> Result<(), Error> {
    if len > MAX_REQUEST_BYTES {
        return Err(Error::invalid(format!(
            "the request is {len} bytes, over the limit of {MAX_REQUEST_BYTES} bytes (4 MiB); \
             send fewer or smaller values"
        )));
    }
    Ok(())
}

/// A timeout must be positive and at most [`MAX_TIMEOUT`].
pub fn check_timeout(timeout: Duration, what: &str) -> Result<(), Error> {
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(Error::invalid(format!(
            "{what} must be between 1 and {} ms, got {} ms",
            MAX_TIMEOUT.as_millis() as u64,
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
        )));
    }
    Ok(())
}

/// `host[:port]` of a normalised server URL (for `x-modal-host`).
fn host_of(server_url: &str) -> &str {
    let rest = server_url
        .split_once("://")
        .map_or(server_url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// A random (version 4) UUID in its usual text form.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests;
