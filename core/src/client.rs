//! The client: Modal's Secret operations (WIRE.md, "Semantics") over any [`Transport`].
//!
//! Everything a call decides lives here: argument checks, the request message, headers, the retry
//! loop with its waits and deadline, reading the answer. The transport only moves bytes: `fetch` in
//! the npm package (src/host.rs), a native HTTP client in the tests.
//!
//! - [`Client`]: the settings of one connection (URL, token, environment, timeout, retries).
//! - [`Source`] and [`Client::hydrate`]: what `Secret.fromName` / `fromDict` stand for, and turning
//!   that into a [`SecretRecord`] (a lookup, or an ephemeral create).
//! - [`Listing`]: `Secret.objects.list` one page at a time, as Modal's clients page.

mod listing;
mod model;

use std::time::Duration;

use prost::Message;

use crate::config::Config;
use crate::error::{Code, Error};
use crate::grpc_web::{self, CallMeta, HttpResponse, Limits, RequestHeaders};
use crate::proto::{self, ObjectCreationType};
use crate::redact::Redacted;
use crate::retry::{CallState, Decision, RetryPolicy};
use crate::validate;

pub use listing::{LIST_PAGE_SIZE, Listing, PageRequest};
pub use model::{EnvDict, SecretRecord, Source, Update, check_updates};

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
}

/// What the client needs from its host: an HTTP POST, a timer, a clock, randomness and a place to
/// report the server's warnings. Futures need not be `Send` (JS is single-threaded).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends one request and reads the whole answer. Fails only with [`Error::Connection`] (no
    /// answer), [`Error::Timeout`] (past `request.timeout`) or [`Error::Aborted`] (the caller's
    /// signal); an HTTP error status is an answer, not a failure.
    async fn post(&self, request: Request<'_>) -> Result<Response, Error>;
    /// Waits; fails with [`Error::Aborted`] if the caller's signal fires meanwhile.
    async fn sleep(&self, wait: Duration) -> Result<(), Error>;
    /// A monotonic clock (any origin).
    fn now(&self) -> Duration;
    /// 16 random bytes for an idempotency key.
    fn random_bytes(&self) -> [u8; 16];
    /// A warning from the server (`x-modal-warning`).
    fn warn(&self, message: &str);
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
}

/// Settings beyond the [`Config`]: the JS options `timeoutMs` and `maxRetries`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tuning {
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
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

    /// Looks a secret up by name (`Secret.fromName(...).hydrate()`): NOT_FOUND if it is missing,
    /// FAILED_PRECONDITION if one of `required_keys` is.
    pub async fn lookup(
        &self,
        t: &impl Transport,
        name: &str,
        environment: Option<&str>,
        required_keys: &[String],
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        validate::secret_name(name)?;
        for key in required_keys {
            validate::env_key(key)?;
        }
        let request = proto::SecretGetOrCreateRequest {
            deployment_name: name.to_owned(),
            environment_name: self.environment_for(environment)?,
            required_keys: required_keys.to_vec(),
            ..Default::default()
        };
        let response: proto::SecretGetOrCreateResponse =
            self.call(t, "SecretGetOrCreate", &request, opts).await?;
        SecretRecord::from_response(response, Some(name))
    }

    /// Creates a named secret (`Secret.objects.create`): ALREADY_EXISTS if the name is taken, unless
    /// `allow_existing`, which leaves an existing secret untouched (Modal's CREATE_IF_MISSING).
    pub async fn create(
        &self,
        t: &impl Transport,
        name: &str,
        env_dict: &EnvDict,
        allow_existing: bool,
        environment: Option<&str>,
        opts: CallOptions,
    ) -> Result<(), Error> {
        validate::secret_name(name)?;
        let creation_type = if allow_existing {
            ObjectCreationType::CreateIfMissing
        } else {
            ObjectCreationType::CreateFailIfExists
        };
        let request = proto::SecretGetOrCreateRequest {
            deployment_name: name.to_owned(),
            environment_name: self.environment_for(environment)?,
            object_creation_type: creation_type as i32,
            env_dict: env_dict.to_proto(),
            ..Default::default()
        };
        let _: proto::SecretGetOrCreateResponse =
            self.call(t, "SecretGetOrCreate", &request, opts).await?;
        Ok(())
    }

    /// Makes an ephemeral (anonymous) secret holding `env_dict`: what hydrating `Secret.fromDict`
    /// does.
    pub async fn create_ephemeral(
        &self,
        t: &impl Transport,
        env_dict: &EnvDict,
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        let request = proto::SecretGetOrCreateRequest {
            environment_name: self.environment.clone(),
            object_creation_type: ObjectCreationType::Ephemeral as i32,
            env_dict: env_dict.to_proto(),
            ..Default::default()
        };
        let response: proto::SecretGetOrCreateResponse =
            self.call(t, "SecretGetOrCreate", &request, opts).await?;
        let mut record = SecretRecord::from_response(response, None)?;
        if record.keys.is_empty() {
            // A server may leave an ephemeral secret's metadata out; its keys are the ones we sent.
            record.keys = env_dict.keys().map(str::to_owned).collect();
        }
        Ok(record)
    }

    /// Resolves a [`Source`] to the secret it stands for.
    pub async fn hydrate(
        &self,
        t: &impl Transport,
        source: &Source,
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        match source {
            Source::Name {
                name,
                environment,
                required_keys,
            } => {
                self.lookup(t, name, environment.as_deref(), required_keys, opts)
                    .await
            }
            Source::Dict(env_dict) => self.create_ephemeral(t, env_dict, opts).await,
        }
    }

    /// Deletes a named secret: a lookup, then SecretDelete by id (as Modal's clients do).
    /// `allow_missing` turns the lookup's NOT_FOUND into `Ok(false)`.
    pub async fn delete(
        &self,
        t: &impl Transport,
        name: &str,
        allow_missing: bool,
        environment: Option<&str>,
        opts: CallOptions,
    ) -> Result<bool, Error> {
        let record = match self.lookup(t, name, environment, &[], opts).await {
            Ok(record) => record,
            Err(e) if allow_missing && e.code() == Code::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let request = proto::SecretDeleteRequest {
            secret_id: record.id,
        };
        let _: () = self.call(t, "SecretDelete", &request, opts).await?;
        Ok(true)
    }

    /// Sets (`Some`) and removes (`None`) keys of the secret `secret_id`, in one call.
    pub async fn update(
        &self,
        t: &impl Transport,
        secret_id: &str,
        updates: &[Update],
        opts: CallOptions,
    ) -> Result<(), Error> {
        check_updates(updates)?;
        let request = model::update_request(secret_id, updates);
        let _: () = self.call(t, "SecretUpdate", &request, opts).await?;
        Ok(())
    }

    /// The secret's current metadata (SecretGetInfo).
    pub async fn info(
        &self,
        t: &impl Transport,
        secret_id: &str,
        opts: CallOptions,
    ) -> Result<SecretRecord, Error> {
        let request = proto::SecretGetInfoRequest {
            secret_id: secret_id.to_owned(),
        };
        let response: proto::SecretGetInfoResponse =
            self.call(t, "SecretGetInfo", &request, opts).await?;
        let metadata = response.metadata.unwrap_or_default();
        Ok(SecretRecord::from_metadata(secret_id.to_owned(), metadata))
    }

    /// One page of a listing (see [`Listing`]).
    pub async fn list_page(
        &self,
        t: &impl Transport,
        page: &PageRequest,
        opts: CallOptions,
    ) -> Result<Vec<SecretRecord>, Error> {
        let request = proto::SecretListRequest {
            environment_name: self.environment_for(page.environment.as_deref())?,
            pagination: Some(proto::ListPagination {
                max_objects: page.max_objects,
                created_before: page.created_before,
            }),
        };
        let response: proto::SecretListResponse =
            self.call(t, "SecretList", &request, opts).await?;
        response
            .items
            .into_iter()
            .map(SecretRecord::from_list_item)
            .collect()
    }

    /// One unary call: encode, send, retry as WIRE.md says, decode.
    pub async fn call<Req: Message, Resp: Reply>(
        &self,
        t: &impl Transport,
        method: &str,
        request: &Req,
        opts: CallOptions,
    ) -> Result<Resp, Error> {
        check_request_size(request.encoded_len())?;
        let body = grpc_web::encode_request(request)?;
        let reply = self.call_bytes(t, method, &body, opts).await?;
        Resp::decode_reply(&reply)
    }

    /// The retry loop of [`Client::call`], on bytes. Not generic over the message types, so the
    /// wasm holds one copy of it rather than one per method.
    async fn call_bytes(
        &self,
        t: &impl Transport,
        method: &str,
        body: &[u8],
        opts: CallOptions,
    ) -> Result<Vec<u8>, Error> {
        if let Some(t) = opts.timeout {
            check_timeout(t, "timeoutMs")?;
        }
        let url = format!("{}{}", self.server_url, grpc_web::method_path(method));
        let idempotency_key = uuid_v4(t.random_bytes());
        let timeout = opts.timeout.or(self.timeout);
        let start = t.now();
        let mut retries = 0;
        loop {
            let elapsed = t.now().saturating_sub(start);
            let remaining = timeout.map(|d| d.saturating_sub(elapsed));
            if remaining == Some(Duration::ZERO) {
                return Err(Error::Timeout(timeout.unwrap_or_default()));
            }
            let headers = grpc_web::request_headers(&CallMeta {
                token_id: &self.token_id,
                token_secret: &self.token_secret,
                client_type: CLIENT_TYPE,
                client_version: CLIENT_VERSION,
                host: &self.host,
                idempotency_key: &idempotency_key,
                attempt: retries,
                since_first: elapsed,
            });
            let sent = t
                .post(Request {
                    url: &url,
                    headers: &headers,
                    body,
                    timeout: remaining,
                })
                .await;
            let error = match sent {
                Ok(response) => {
                    let decoded = grpc_web::decode_response(
                        &HttpResponse {
                            status: response.status,
                            headers: &response.headers,
                            body: &response.body,
                        },
                        self.limits,
                    );
                    for warning in &decoded.warnings {
                        t.warn(warning);
                    }
                    match decoded.outcome {
                        Ok(bytes) => return Ok(bytes.to_vec()),
                        Err(error) => error,
                    }
                }
                Err(Error::Timeout(_)) => return Err(Error::Timeout(timeout.unwrap_or_default())),
                Err(error) => error,
            };
            if matches!(error, Error::Aborted) {
                return Err(error);
            }
            let state = CallState {
                retries,
                elapsed: t.now().saturating_sub(start),
                deadline: timeout,
            };
            match self.policy.decide(&error, state) {
                Decision::Stop => return Err(error),
                Decision::Retry { after, throttled } => {
                    t.sleep(after).await?;
                    if !throttled {
                        retries += 1;
                    }
                }
            }
        }
    }
}

/// A response message type. `()` stands for `google.protobuf.Empty`, whose bytes are ignored.
pub trait Reply: Sized {
    fn decode_reply(bytes: &[u8]) -> Result<Self, Error>;
}

impl Reply for () {
    fn decode_reply(_: &[u8]) -> Result<(), Error> {
        Ok(())
    }
}

macro_rules! reply {
    ($($t:ty),*) => {$(
        impl Reply for $t {
            fn decode_reply(bytes: &[u8]) -> Result<Self, Error> {
                grpc_web::decode_message(bytes)
            }
        }
    )*};
}
reply!(
    proto::SecretGetOrCreateResponse,
    proto::SecretListResponse,
    proto::SecretGetInfoResponse,
    proto::ClientHelloResponse,
    proto::WorkspaceNameLookupResponse,
    proto::AuthTokenGetResponse
);

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
