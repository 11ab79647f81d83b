//! Gateway mode (`serve --upstream URL`): every call to `/modal.client.ModalClient/<Method>` is
//! forwarded as plain gRPC over HTTP/2 to the one configured upstream (the real
//! `https://api.modal.com`, or another local server over h2c), and its answer comes back unchanged.
//!
//! The translation to and from gRPC-web is tonic-web's, in the stack around this service (as in
//! local mode): what arrives here is a gRPC request (body already read and size-checked by the
//! call layer), and what leaves is a gRPC response whose headers, body frames and trailers are the
//! upstream's, byte for byte (`grpc-status`, `grpc-message`, `grpc-status-details-bin`,
//! `x-modal-warning` and any other metadata). tonic-web then writes the trailers into the gRPC-web
//! trailer frame; a plain gRPC caller (Modal's own clients) gets them as HTTP/2 trailers.
//!
//! Where a call goes is decided here and only here: the scheme and authority are the configured
//! upstream's, the path is rebuilt from a checked method name, and nothing in the request (its
//! `Host`, `:authority`, an absolute-form URI, `..` or percent-encoded segments, a query) can
//! change that. Headers are the caller's minus a fixed list (hop-by-hop, cookies, origin and other
//! browser-only headers; see [`forwarded_request_header`]).
//!
//! The upstream client is tonic's `Channel`: one HTTP/2 connection that every call shares (made on
//! the first call, remade after it breaks), TLS set up once per connection, never per call.
//!
//! This file is the forwarding itself (which calls go, the request made of them, the deadline);
//! beside it: `upstream.rs` (the upstream's URL, TLS roots and connection, and what a call that got
//! no answer says), `headers.rs` (which headers cross, each way) and `answer.rs` (the upstream's
//! answer on its way back).

mod answer;
mod headers;
mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri, Version};
use tokio_rustls::rustls::pki_types::TrustAnchor;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::Channel;
use tower::{Service, ServiceExt};

use crate::http::client_addr::ClientAddr;
use answer::answer;
use upstream::{deadline_exceeded, upstream_error};

pub use headers::{forwarded_request_header, returned_response_header};
pub use upstream::{CaFile, UPSTREAM_CA_FLAG, Upstream, extra_roots};

/// The only service the gateway forwards.
pub const SERVICE: &str = "modal.client.ModalClient";

/// Longest method name forwarded (Modal's are under 50 characters).
const MAX_METHOD_LEN: usize = 100;

/// The methods forwarded by default: what this package, Modal's `modal secret` commands and
/// `Secret` API (modal 1.6.4: ClientHello, SecretGetOrCreate, SecretList, SecretDelete,
/// SecretUpdate, SecretGetInfo), `modal token set` (WorkspaceNameLookup) and Modal's JS SDK
/// (AuthTokenGet) call. Everything else is UNIMPLEMENTED unless `--forward-all-methods`.
pub const FORWARDED_METHODS: &[&str] = &[
    "SecretGetOrCreate",
    "SecretList",
    "SecretDelete",
    "SecretUpdate",
    "SecretGetInfo",
    "ClientHello",
    "WorkspaceNameLookup",
    "AuthTokenGet",
];

/// The gateway service: mounted at `/modal.client.ModalClient/` in place of the local service.
#[derive(Clone)]
pub struct Gateway {
    channel: Channel,
    origin: Arc<str>,
    /// Forward every method, not only [`FORWARDED_METHODS`].
    forward_all: bool,
}

impl Gateway {
    /// Sets up the upstream client. No connection is made until the first call, so a gateway
    /// starts (and serves its static files) while the upstream is down; calls then answer
    /// UNAVAILABLE. An `https://` upstream's certificate is checked against the Mozilla roots
    /// built in and `extra_roots` (from [`extra_roots`]). Must run inside a Tokio runtime.
    pub fn new(
        upstream: &Upstream,
        extra_roots: Vec<TrustAnchor<'static>>,
    ) -> Result<Gateway, String> {
        Ok(Gateway {
            channel: upstream.channel(extra_roots)?,
            origin: upstream.origin().into(),
            forward_all: false,
        })
    }

    /// Forward every ModalClient method (`--forward-all-methods`), not only the secrets ones.
    pub fn forward_all_methods(mut self, all: bool) -> Gateway {
        self.forward_all = all;
        self
    }
}

impl NamedService for Gateway {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<Body>> for Gateway {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call waits for the channel itself (see `forward`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let channel = self.channel.clone();
        let origin = Arc::clone(&self.origin);
        let forward_all = self.forward_all;
        Box::pin(async move {
            Ok(
                match forward(channel, &origin, forward_all, request).await {
                    Ok(response) => response,
                    Err(Refusal::Status(status)) => status.into_http(),
                    Err(Refusal::Http(code)) => {
                        let mut response = Response::new(Body::empty());
                        *response.status_mut() = code;
                        response
                    }
                },
            )
        })
    }
}

enum Refusal {
    /// A gRPC error, answered trailers-only.
    Status(Status),
    /// Not a gRPC request at all.
    Http(StatusCode),
}

impl From<Status> for Refusal {
    fn from(status: Status) -> Refusal {
        Refusal::Status(status)
    }
}

async fn forward(
    channel: Channel,
    origin: &str,
    forward_all: bool,
    request: Request<Body>,
) -> Result<Response<Body>, Refusal> {
    let (parts, body) = request.into_parts();
    let Some(method) = method_name(parts.uri.path()) else {
        return Err(Status::unimplemented(format!(
            "the gateway forwards only /{SERVICE}/<Method> calls"
        ))
        .into());
    };
    if !forward_all && !FORWARDED_METHODS.contains(&method) {
        return Err(Status::unimplemented(format!(
            "this gateway forwards only the secrets methods ({}); {method} is not forwarded \
             (its operator can start it with --forward-all-methods)",
            FORWARDED_METHODS.join(", ")
        ))
        .into());
    }
    if parts.method != Method::POST {
        return Err(Refusal::Http(StatusCode::METHOD_NOT_ALLOWED));
    }
    if !is_grpc(&parts.headers) {
        return Err(Refusal::Http(StatusCode::UNSUPPORTED_MEDIA_TYPE));
    }

    // Path only: the channel sets the upstream's scheme and authority (`:authority`).
    let path = PathAndQuery::try_from(format!("/{SERVICE}/{method}"))
        .map_err(|_| Status::unimplemented("unknown method"))?;
    let mut upstream_request = Request::new(body);
    *upstream_request.method_mut() = Method::POST;
    *upstream_request.uri_mut() = Uri::from(path);
    *upstream_request.version_mut() = Version::HTTP_2;
    let headers = upstream_request.headers_mut();
    for (name, value) in &parts.headers {
        if forwarded_request_header(name, &parts.headers) {
            headers.append(name.clone(), value.clone());
        }
    }
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    // The caller's address (after any proxy this gateway trusts), so that an upstream that trusts
    // the gateway (`--trusted-proxy`) counts failed authentications per caller, not per gateway.
    if let Some(client) = parts.extensions.get::<ClientAddr>()
        && let Ok(value) = HeaderValue::from_str(&client.forwarded_for)
    {
        headers.insert("x-forwarded-for", value);
    }

    let deadline = grpc_timeout(&parts.headers);
    let call = channel.oneshot(upstream_request);
    let result = match deadline {
        Some(deadline) => match tokio::time::timeout(deadline, call).await {
            Ok(result) => result,
            Err(_) => return Err(deadline_exceeded().into()),
        },
        None => call.await,
    };
    let response = result.map_err(|e| upstream_error(origin, &e))?;
    Ok(answer(origin, response)?)
}

/// The method of `/modal.client.ModalClient/<Method>`, if it is a plain identifier: no other
/// service, no `/`, `.`, `%` or anything else that could make another path upstream.
fn method_name(path: &str) -> Option<&str> {
    let method = path
        .strip_prefix('/')?
        .strip_prefix(SERVICE)?
        .strip_prefix('/')?;
    let mut bytes = method.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && method.len() <= MAX_METHOD_LEN)
        .then_some(method)
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// The call's deadline from `grpc-timeout` (at most 8 digits and a unit: `H`, `M`, `S`, `m`, `u`,
/// `n`), so that a call waiting for the upstream connection ends when its caller gives up.
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names() {
        assert_eq!(
            method_name("/modal.client.ModalClient/SecretList"),
            Some("SecretList")
        );
        assert_eq!(
            method_name("/modal.client.ModalClient/Foo_2"),
            Some("Foo_2")
        );
        for bad in [
            "/modal.client.ModalClient/",
            "/modal.client.ModalClient/../x",
            "/modal.client.ModalClient/a/b",
            "/modal.client.ModalClient/%2e%2e",
            "/modal.client.ModalClient//SecretList",
            "/modal.client.ModalClientX/SecretList",
            "/other.Service/SecretList",
            "/modal.client.ModalClient/1abc",
            "modal.client.ModalClient/SecretList",
        ] {
            assert_eq!(method_name(bad), None, "{bad}");
        }
        assert_eq!(
            method_name(&format!("/modal.client.ModalClient/{}", "A".repeat(101))),
            None
        );
    }

    #[test]
    fn timeouts() {
        let parse = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-timeout", HeaderValue::from_str(v).unwrap());
            grpc_timeout(&headers)
        };
        assert_eq!(parse("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("99999999n"), Some(Duration::from_nanos(99_999_999)));
        for bad in ["", "S", "5", "5s", "123456789S", "-1S", "1.5S"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
