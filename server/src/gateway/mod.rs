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

use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, TrustAnchor};
use tokio_rustls::rustls::{self, RootCertStore};
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tower::{Service, ServiceExt};

use crate::net::ClientAddr;

/// The only service the gateway forwards.
pub const SERVICE: &str = "modal.client.ModalClient";

/// How long making the upstream connection (TCP, and TLS for https) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keepalive on the upstream connection, so that a connection dropped silently (a NAT or a
/// load balancer forgetting it) is noticed without HTTP/2 pings, which gRPC servers limit.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

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

/// The configured upstream: `http://host[:port]` (h2c) or `https://host[:port]` (TLS, ALPN h2).
#[derive(Clone, Debug)]
pub struct Upstream {
    uri: Uri,
}

impl Upstream {
    /// Parses `--upstream`: a scheme, a host and maybe a port; nothing else (no user info, no path
    /// beyond `/`, no query), so that it names one origin.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let url = url.trim();
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "{url:?} must start with https:// (TLS) or http:// (cleartext HTTP/2)"
            ));
        }
        let Some(authority) = uri.authority() else {
            return Err(format!("{url:?} has no host"));
        };
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} must not hold a user name or password"));
        }
        if authority.host().is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        if uri.path() != "/" || uri.query().is_some() {
            return Err(format!(
                "{url:?} must be scheme://host[:port] with no path: calls go to \
                 /{SERVICE}/<Method> on it"
            ));
        }
        let uri = Uri::builder()
            .scheme(uri.scheme().cloned().unwrap_or(Scheme::HTTP))
            .authority(authority.clone())
            .path_and_query("/")
            .build()
            .map_err(|e| format!("{url:?}: {e}"))?;
        Ok(Upstream { uri })
    }

    pub fn is_tls(&self) -> bool {
        self.uri.scheme() == Some(&Scheme::HTTPS)
    }

    /// `scheme://host[:port]`, for logs and error messages.
    pub fn origin(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        format!("{scheme}://{authority}")
    }
}

/// The flag that names an extra CA file for the upstream's TLS.
pub const UPSTREAM_CA_FLAG: &str = "--upstream-ca";

/// A PEM file of CA certificates that the upstream's TLS trusts beside the built-in roots, and what
/// named it ([`UPSTREAM_CA_FLAG`] or `SSL_CERT_FILE`), for error messages.
#[derive(Clone, Debug)]
pub struct CaFile {
    pub path: PathBuf,
    pub named_by: &'static str,
}

/// The extra roots for `upstream`'s TLS, read from `files` at start: every certificate in every
/// file (a bundle may hold several; anything else in it, a key say, is skipped). A file that cannot
/// be read, holds no certificate, or holds one that is not a usable CA certificate is an error
/// naming the flag (or variable) and the path; nothing of the file's content is quoted. For an
/// `http://` upstream there is no TLS: files named by `SSL_CERT_FILE` are ignored, and
/// `--upstream-ca` is refused, since it would do nothing.
pub fn extra_roots(
    upstream: &Upstream,
    files: &[CaFile],
) -> Result<Vec<TrustAnchor<'static>>, String> {
    if !upstream.is_tls() {
        return match files.iter().find(|f| f.named_by == UPSTREAM_CA_FLAG) {
            Some(file) => Err(format!(
                "{UPSTREAM_CA_FLAG} {}: the upstream {} is cleartext (http://), so there is no \
                 certificate to check; it is for an https:// upstream",
                file.path.display(),
                upstream.origin()
            )),
            None => Ok(Vec::new()),
        };
    }
    let mut roots = RootCertStore::empty();
    for file in files {
        let fail = |why: String| format!("{} {}: {why}", file.named_by, file.path.display());
        let pem = std::fs::read(&file.path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let mut count = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            count += 1;
            let cert =
                cert.map_err(|e| fail(format!("certificate {count} is not valid PEM: {e}")))?;
            roots.add(cert).map_err(|e| {
                let why = match e {
                    rustls::Error::InvalidCertificate(e) => format!("{e:?}"),
                    e => e.to_string(),
                };
                fail(format!(
                    "certificate {count} is not a usable CA certificate ({why})"
                ))
            })?;
        }
        if count == 0 {
            return Err(fail(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
    }
    Ok(roots.roots)
}

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
        let mut endpoint = Endpoint::from(upstream.uri.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .tcp_keepalive(Some(TCP_KEEPALIVE))
            .user_agent(concat!("modal-secrets-server/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| e.to_string())?;
        if upstream.is_tls() {
            endpoint = endpoint
                .tls_config(
                    ClientTlsConfig::new()
                        .with_webpki_roots()
                        .trust_anchors(extra_roots),
                )
                .map_err(|e| format!("TLS to {}: {e}", upstream.origin()))?;
        }
        Ok(Gateway {
            channel: endpoint.connect_lazy(),
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

/// Whether a caller's header goes on to the upstream. Everything does except:
/// - hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and what it names, `Keep-Alive`,
///   `Transfer-Encoding`, `TE` (set to `trailers` by the gateway), `Upgrade`, `Proxy-*`, …) and
///   `Content-Length` (the body is re-framed);
/// - `Host` (the upstream's authority is set by the gateway) and `Forwarded`/`X-Forwarded-*`/
///   `X-Real-IP`/`Via` (they would be the caller's claim; the gateway sets its own
///   `X-Forwarded-For`, from [`ClientAddr`]);
/// - what a browser adds on its own, which belongs to the page and not to the call: `Cookie`,
///   `Origin`, `Referer`, `Access-Control-Request-*`, `Sec-*` (fetch metadata, client hints);
/// - `Accept-Encoding` (the gateway does not undo HTTP compression) and `X-Grpc-Web` (the
///   upstream speaks plain gRPC).
///
/// `x-modal-*`, `x-idempotency-key`, `x-retry-*`, `grpc-timeout`, `grpc-*`, `user-agent` (tonic adds
/// its own after it), `authorization` and every other header pass unchanged.
pub fn forwarded_request_header(name: &HeaderName, headers: &HeaderMap) -> bool {
    const DROPPED: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "http2-settings",
        "content-length",
        "host",
        "forwarded",
        "via",
        "x-real-ip",
        "cookie",
        "origin",
        "referer",
        "accept-encoding",
        "x-grpc-web",
    ];
    const DROPPED_PREFIXES: &[&str] = &["proxy-", "x-forwarded-", "sec-", "access-control-"];
    let name = name.as_str();
    !(DROPPED.contains(&name)
        || DROPPED_PREFIXES.iter().any(|p| name.starts_with(p))
        || named_by_connection(name, headers))
}

/// Whether the response header from the upstream goes back to the caller. Everything does except
/// hop-by-hop headers, `Content-Length` (gRPC-web adds a trailer frame to the body), and what would
/// apply the upstream's policies to the gateway's own origin: `Set-Cookie`, `Alt-Svc`,
/// `Strict-Transport-Security`, `Access-Control-*` and `Vary` (CORS is the gateway's: its CORS
/// layer answers for its allowed origins and sets its own `Vary`; an answer to a POST is never
/// cached, so the upstream's `Vary` has nothing to say to the caller).
pub fn returned_response_header(name: &HeaderName, headers: &HeaderMap) -> bool {
    const DROPPED: &[&str] = &[
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "trailer",
        "upgrade",
        "content-length",
        "set-cookie",
        "alt-svc",
        "strict-transport-security",
        "vary",
    ];
    const DROPPED_PREFIXES: &[&str] = &["proxy-", "access-control-"];
    let name = name.as_str();
    !(DROPPED.contains(&name)
        || DROPPED_PREFIXES.iter().any(|p| name.starts_with(p))
        || named_by_connection(name, headers))
}

/// Whether `Connection` lists `name` (which makes it hop-by-hop).
fn named_by_connection(name: &str, headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case(name))
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

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the upstream did not answer within the call's grpc-timeout")
}

/// A call the upstream never answered: its connection could not be made, or broke, or the stream
/// was reset before the answer's headers. UNAVAILABLE, which clients retry; the cause is named
/// (connection refused, DNS, TLS, reset, …), never anything of the request.
fn upstream_error(origin: &str, error: &tonic::transport::Error) -> Status {
    let mut causes: Vec<String> = Vec::new();
    let mut hint = None;
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(cause) = source {
        if cause.is::<tonic::TimeoutExpired>() {
            return deadline_exceeded();
        }
        hint = hint.or_else(|| certificate_hint(cause));
        let text = cause.to_string();
        if causes.last() != Some(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    if causes.is_empty() {
        causes.push(error.to_string());
    }
    causes.extend(hint);
    Status::unavailable(format!(
        "the gateway got no answer from its upstream {origin}: {}",
        causes.join(": ")
    ))
}

/// What to tell the operator when `cause` is rustls refusing the upstream's certificate because no
/// root the gateway trusts vouches for it (it comes wrapped in an `io::Error`, whose `source`
/// skips it): signed by an unknown CA, or a CA certificate (self-signed, say) served as the
/// server's own.
fn certificate_hint(cause: &(dyn StdError + 'static)) -> Option<String> {
    let rustls_error = cause.downcast_ref::<rustls::Error>().or_else(|| {
        cause
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<rustls::Error>())
    });
    match rustls_error? {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
            Some(format!(
                "the upstream's certificate is not signed by a CA this gateway trusts (the \
                 Mozilla roots built in, and any {UPSTREAM_CA_FLAG} or SSL_CERT_FILE)"
            ))
        }
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            Some(format!(
                "the upstream's certificate is not trusted: it is a CA certificate (self-signed?), \
                 which is never accepted as a server's own; the upstream needs a certificate \
                 issued by a CA, and this gateway that CA ({UPSTREAM_CA_FLAG})"
            ))
        }
        _ => None,
    }
}

/// The upstream's answer, made ready to go back: its headers minus the dropped ones, its body and
/// trailers as they come. An answer that is not gRPC (a proxy's error page, say) becomes the gRPC
/// status its HTTP status stands for (the gRPC spec's mapping).
fn answer(origin: &str, response: Response<Body>) -> Result<Response<Body>, Status> {
    let (mut parts, body) = response.into_parts();
    let trailers_only = parts.headers.contains_key("grpc-status");
    if !trailers_only {
        if parts.status != StatusCode::OK {
            return Err(Status::new(
                code_for_http_status(parts.status),
                format!(
                    "the upstream {origin} answered HTTP {} without a gRPC status",
                    parts.status.as_u16()
                ),
            ));
        }
        if !is_grpc(&parts.headers) {
            let content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .chars()
                .take(100)
                .collect::<String>();
            return Err(Status::unknown(format!(
                "the upstream {origin} answered with content-type {content_type:?}, not gRPC"
            )));
        }
    }
    let upstream_headers = std::mem::take(&mut parts.headers);
    for (name, value) in &upstream_headers {
        if returned_response_header(name, &upstream_headers) {
            parts.headers.append(name.clone(), value.clone());
        }
    }
    parts.version = Version::default();
    parts.extensions = http::Extensions::new();
    let body = if trailers_only {
        body
    } else {
        Body::new(UpstreamBody {
            inner: body,
            done: false,
        })
    };
    Ok(Response::from_parts(parts, body))
}

/// The gRPC code for an HTTP status that came without one (gRPC's "HTTP to gRPC status code
/// mapping").
fn code_for_http_status(status: StatusCode) -> tonic::Code {
    match status.as_u16() {
        400 => tonic::Code::Internal,
        401 => tonic::Code::Unauthenticated,
        403 => tonic::Code::PermissionDenied,
        404 => tonic::Code::Unimplemented,
        429 | 502 | 503 | 504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    }
}

pin_project_lite::pin_project! {
    /// The upstream's response body, passed through frame by frame; if it breaks off (the
    /// connection drops) or ends without trailers, a trailers frame with the status saying so is
    /// added, so that the caller gets a gRPC error instead of a cut-off answer.
    struct UpstreamBody {
        #[pin]
        inner: Body,
        done: bool,
    }
}

impl HttpBody for UpstreamBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match std::task::ready!(this.inner.poll_frame(cx)) {
            Some(Ok(frame)) => {
                if frame.is_trailers() {
                    *this.done = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(error)) => {
                *this.done = true;
                let status = Status::unavailable(format!(
                    "the upstream's answer broke off: {}",
                    error.message()
                ));
                Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))))
            }
            None => {
                *this.done = true;
                let status = Status::internal("the upstream's answer ended without a gRPC status");
                Poll::Ready(Some(Ok(Frame::trailers(status_trailers(&status)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn status_trailers(status: &Status) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    if status.add_header(&mut trailers).is_err() {
        trailers.insert("grpc-status", HeaderValue::from(status.code() as i32));
    }
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let ok = |url: &str| Upstream::parse(url).map(|u| u.origin());
        assert_eq!(
            ok("https://api.modal.com").unwrap(),
            "https://api.modal.com"
        );
        assert_eq!(
            ok("https://api.modal.com/").unwrap(),
            "https://api.modal.com"
        );
        assert_eq!(
            ok("http://127.0.0.1:8787").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(ok("http://[::1]:8787").unwrap(), "http://[::1]:8787");
        assert!(Upstream::parse("https://api.modal.com").unwrap().is_tls());
        for bad in [
            "api.modal.com",
            "ftp://api.modal.com",
            "https://user:pw@api.modal.com",
            "https://api.modal.com/prefix",
            "https://api.modal.com/?x=1",
            "https://",
            "",
        ] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extra_ca_files() {
        let dir = tempfile::tempdir().unwrap();
        let https = Upstream::parse("https://localhost:1").unwrap();
        let http = Upstream::parse("http://localhost:1").unwrap();
        let file = |name: &str, text: &[u8], named_by: &'static str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            CaFile { path, named_by }
        };
        let cert = include_bytes!("../tests/fixtures/self-signed.crt");
        let mut bundle = cert.to_vec();
        bundle.extend_from_slice(include_bytes!("../tests/fixtures/self-signed.key"));
        bundle.extend_from_slice(cert);
        let good = file("bundle.pem", &bundle, UPSTREAM_CA_FLAG);
        assert_eq!(
            extra_roots(&https, std::slice::from_ref(&good))
                .unwrap()
                .len(),
            2
        );
        assert!(extra_roots(&https, &[]).unwrap().is_empty());

        let err = |files: &[CaFile]| extra_roots(&https, files).unwrap_err();
        let missing = CaFile {
            path: dir.path().join("missing.pem"),
            named_by: UPSTREAM_CA_FLAG,
        };
        let e = err(&[good.clone(), missing]);
        assert!(
            e.starts_with("--upstream-ca ") && e.contains("missing.pem: cannot read it"),
            "{e}"
        );
        let key_only = file(
            "key.pem",
            include_bytes!("../tests/fixtures/self-signed.key"),
            "SSL_CERT_FILE",
        );
        let e = err(std::slice::from_ref(&key_only));
        assert!(
            e.starts_with("SSL_CERT_FILE ") && e.contains("holds no PEM certificate"),
            "{e}"
        );
        assert!(!e.contains("PRIVATE"), "{e}");
        let broken = file(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            UPSTREAM_CA_FLAG,
        );
        let e = err(&[broken]);
        assert!(
            e.contains("certificate 1 is not a usable CA certificate"),
            "{e}"
        );

        // No TLS: --upstream-ca is refused, SSL_CERT_FILE ignored.
        assert!(
            extra_roots(&http, &[good])
                .unwrap_err()
                .contains("cleartext")
        );
        assert!(extra_roots(&http, &[key_only]).unwrap().is_empty());
    }

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

    #[test]
    fn header_filters() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        let forwarded =
            |name: &'static str| forwarded_request_header(&HeaderName::from_static(name), &headers);
        for name in [
            "x-modal-token-id",
            "x-modal-token-secret",
            "x-modal-client-type",
            "grpc-timeout",
            "x-idempotency-key",
            "user-agent",
            "content-type",
            "authorization",
        ] {
            assert!(forwarded(name), "{name}");
        }
        for name in [
            "host",
            "cookie",
            "origin",
            "referer",
            "sec-fetch-mode",
            "x-forwarded-for",
            "proxy-authorization",
            "connection",
            "te",
            "x-secret-hop",
            "content-length",
            "accept-encoding",
            "x-grpc-web",
        ] {
            assert!(!forwarded(name), "{name}");
        }
        let returned = |name: &'static str| {
            returned_response_header(&HeaderName::from_static(name), &HeaderMap::new())
        };
        for name in [
            "grpc-status",
            "grpc-message",
            "grpc-status-details-bin",
            "x-modal-warning",
        ] {
            assert!(returned(name), "{name}");
        }
        for name in [
            "set-cookie",
            "alt-svc",
            "access-control-allow-origin",
            "content-length",
            "transfer-encoding",
        ] {
            assert!(!returned(name), "{name}");
        }
    }
}
