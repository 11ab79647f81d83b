//! gRPC-web framing for unary calls: the request body and headers a client sends, and the reading of
//! a response (data frames, the trailer frame, trailers-only answers, error details, warnings).
//! Plain gRPC over HTTP/2 (WIRE.md, "The two transports") shares the frames and the metadata; only
//! its content type, `te: trailers` and where the status comes (HTTP/2 trailers) differ:
//! [`Protocol`], [`request_headers_for`] and [`decode_grpc_response`].
//!
//! Every input here comes from the network, so every malformed shape is a typed error. Lengths are
//! checked against [`Limits`] before anything is sliced or allocated.

use std::fmt;
use std::time::Duration;

use crate::error::{Code, Error, Malformed};
use crate::redact::Redacted;
use crate::retry::retry_after_from_secs;

/// The content type the package sends and expects back.
pub const CONTENT_TYPE: &str = "application/grpc-web+proto";

const CONTENT_TYPE_BASE: &str = "application/grpc-web";

/// The content type of plain gRPC (HTTP/2 with trailers).
pub const GRPC_CONTENT_TYPE: &str = "application/grpc";

/// Which of WIRE.md's two transports a client speaks: the request headers and the reading of the
/// answer follow from it; the bytes of the request are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// `application/grpc-web+proto`, the status in a trailer frame of the body (fetch).
    #[default]
    GrpcWeb,
    /// `application/grpc` over HTTP/2, the status in HTTP/2 trailers (node:http2).
    Grpc,
}

/// `POST` path of a method of Modal's service.
pub fn method_path(method: &str) -> String {
    format!("/modal.client.ModalClient/{method}")
}

const FLAG_COMPRESSED: u8 = 0x01;
const FLAG_TRAILERS: u8 = 0x80;
const FRAME_HEADER_LEN: usize = 5;

/// Limits on what a response may announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame (message or trailers) accepted, in bytes.
    pub max_frame_bytes: usize,
}

impl Default for Limits {
    /// 4 MiB: gRPC's customary receive limit, and far above a page of 100 listed secrets.
    fn default() -> Self {
        Limits {
            max_frame_bytes: 4 << 20,
        }
    }
}

/// A request body: one uncompressed frame holding the message `write` appends (one of
/// [`crate::protobuf`]'s request encoders).
pub fn request_body(write: impl FnOnce(&mut Vec<u8>)) -> Result<Vec<u8>, Error> {
    let mut body = vec![0; FRAME_HEADER_LEN];
    write(&mut body);
    let len = body.len() - FRAME_HEADER_LEN;
    let prefix = u32::try_from(len)
        .map_err(|_| Error::invalid(format!("request of {len} bytes is too large to send")))?;
    body[1..FRAME_HEADER_LEN].copy_from_slice(&prefix.to_be_bytes());
    Ok(body)
}

/// The length of the message in a request body made by [`request_body`].
pub fn request_message_len(body: &[u8]) -> usize {
    body.len().saturating_sub(FRAME_HEADER_LEN)
}

/// A request body holding a prost `message` (the server's tests and tools).
#[cfg(any(test, feature = "messages"))]
pub fn encode_request(message: &impl prost::Message) -> Result<Vec<u8>, Error> {
    request_body(|out| message.encode_raw(out))
}

/// Who is calling, and which attempt of which logical call this is.
#[derive(Clone, Debug)]
pub struct CallMeta<'a> {
    pub token_id: &'a str,
    pub token_secret: &'a Redacted<String>,
    /// `x-modal-client-type` (a `ClientType` number).
    pub client_type: i32,
    pub client_version: &'a str,
    /// Host (and port) of the server URL, for `x-modal-host`.
    pub host: &'a str,
    /// One per logical call, the same on every attempt.
    pub idempotency_key: &'a str,
    /// 0 for the first attempt, then 1, 2, … (throttle waits are not counted).
    pub attempt: u32,
    /// Time since the first attempt; sent as `x-retry-delay` on retries.
    pub since_first: Duration,
}

/// Request headers, in the order sent. `Debug` hides the token secret.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHeaders(pub Vec<(&'static str, String)>);

const TOKEN_SECRET_HEADER: &str = "x-modal-token-secret";

impl fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if *name == TOKEN_SECRET_HEADER {
                    "***"
                } else {
                    value.as_str()
                };
                (name, shown)
            }))
            .finish()
    }
}

/// The gRPC-web headers of one attempt (WIRE.md, "Headers a client sends").
pub fn request_headers(meta: &CallMeta<'_>) -> RequestHeaders {
    request_headers_for(Protocol::GrpcWeb, meta)
}

/// The headers of one attempt in `protocol`: plain gRPC adds `te: trailers`, which HTTP/2 servers
/// (and proxies) need to know the client reads trailers.
pub fn request_headers_for(protocol: Protocol, meta: &CallMeta<'_>) -> RequestHeaders {
    let content_type = match protocol {
        Protocol::GrpcWeb => CONTENT_TYPE,
        Protocol::Grpc => GRPC_CONTENT_TYPE,
    };
    let mut headers = vec![("content-type", content_type.to_owned())];
    if protocol == Protocol::Grpc {
        headers.push(("te", "trailers".to_owned()));
    }
    headers.extend([
        ("x-modal-token-id", meta.token_id.to_owned()),
        (TOKEN_SECRET_HEADER, meta.token_secret.expose().clone()),
        ("x-modal-client-type", meta.client_type.to_string()),
        ("x-modal-client-version", meta.client_version.to_owned()),
        ("x-modal-host", meta.host.to_owned()),
        ("x-idempotency-key", meta.idempotency_key.to_owned()),
        ("x-retry-attempt", meta.attempt.to_string()),
    ]);
    if meta.attempt > 0 {
        headers.push(("x-retry-delay", seconds_text(meta.since_first)));
    }
    RequestHeaders(headers)
}

/// `1.234`: seconds with milliseconds, without float formatting (which costs kilobytes of wasm).
fn seconds_text(d: Duration) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Every response header [`decode_response`] and [`decode_grpc_response`] read (headers,
/// trailers-only answers and HTTP/2 trailers alike), newline-separated: a transport may hand over
/// only these.
pub const RESPONSE_HEADERS: &str =
    "content-type\ngrpc-status\ngrpc-message\ngrpc-status-details-bin\nx-modal-warning\nlocation";

/// An HTTP response as the transport received it. Header names may be in any case; a header that
/// occurs several times appears several times.
#[derive(Clone, Copy, Debug)]
pub struct HttpResponse<'a> {
    pub status: u16,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What a response says: the message bytes or the error, and the server's warnings either way.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<'a> {
    pub outcome: Result<&'a [u8], Error>,
    /// `x-modal-warning` entries from headers and trailers, percent-decoded.
    pub warnings: Vec<String>,
}

/// Reads a unary gRPC-web response.
pub fn decode_response<'a>(response: &HttpResponse<'a>, limits: Limits) -> Decoded<'a> {
    decode(response, None, limits)
}

/// Reads a unary plain-gRPC response (HTTP/2): `trailers` are the HTTP/2 trailers, empty when the
/// answer had none (a trailers-only answer carries its status in `response.headers`). The body is
/// data frames only: a trailer frame there is a gRPC-web answer, not a gRPC one.
pub fn decode_grpc_response<'a>(
    response: &HttpResponse<'a>,
    trailers: &[(String, String)],
    limits: Limits,
) -> Decoded<'a> {
    decode(response, Some(trailers), limits)
}

/// Both protocols in one body (one copy in the wasm): `http2_trailers` is `None` for gRPC-web.
fn decode<'a>(
    response: &HttpResponse<'a>,
    http2_trailers: Option<&[(String, String)]>,
    limits: Limits,
) -> Decoded<'a> {
    let headers = Metadata::from_pairs(response.headers);
    let mut warnings = headers.warnings();
    let outcome = decode_outcome(response, &headers, http2_trailers, limits, &mut warnings);
    Decoded { outcome, warnings }
}

fn decode_outcome<'a>(
    response: &HttpResponse<'a>,
    headers: &Metadata<'_>,
    http2_trailers: Option<&[(String, String)]>,
    limits: Limits,
    warnings: &mut Vec<String>,
) -> Result<&'a [u8], Error> {
    let grpc = http2_trailers.is_some();
    if let Some(error) = redirect_error(response.status, headers) {
        return Err(error);
    }
    // Trailers-only: the status is in the headers and the body is to be ignored. An OK status there
    // leaves nothing to read.
    if headers.get("grpc-status").is_some() {
        return Err(status_error(headers)?.unwrap_or(Malformed::MissingMessage.into()));
    }
    if response.status != 200 {
        return Err(http_status_error(response.status, grpc));
    }
    let content_type = headers.get("content-type").unwrap_or("");
    if !is_binary(content_type, grpc) {
        let quoted = crate::validate::quote(content_type);
        return Err(if grpc {
            Malformed::NotGrpcContentType(quoted)
        } else {
            Malformed::WrongContentType(quoted)
        }
        .into());
    }
    let frames = split_frames(response.body, limits)?;
    let trailers = match http2_trailers {
        Some(pairs) if frames.trailers.is_none() => Metadata::from_pairs(pairs),
        Some(_) => return Err(Malformed::UnknownFrameFlags(FLAG_TRAILERS).into()),
        None => {
            let trailer_bytes = frames.trailers.ok_or(Malformed::MissingStatus)?;
            let trailer_text =
                std::str::from_utf8(trailer_bytes).map_err(|_| Malformed::BadTrailers)?;
            Metadata::parse_block(trailer_text)?
        }
    };
    warnings.extend(trailers.warnings());
    if trailers.get("grpc-status").is_none() {
        return Err(Malformed::MissingStatus.into());
    }
    if let Some(error) = status_error(&trailers)? {
        return Err(error);
    }
    match frames.messages {
        (None, _) => Err(Malformed::MissingMessage.into()),
        (Some(message), 1) => Ok(message),
        (Some(_), count) => Err(Malformed::TooManyMessages(count).into()),
    }
}

/// `Ok(None)` for status 0, `Ok(Some(error))` for any other status, `Err` for an unreadable one.
fn status_error(meta: &Metadata<'_>) -> Result<Option<Error>, Error> {
    let raw = meta.get("grpc-status").ok_or(Malformed::MissingStatus)?;
    let number: i32 = raw
        .trim()
        .parse()
        .map_err(|_| Malformed::BadStatus(crate::validate::quote(raw)))?;
    let code = Code::from_i32(number);
    if number == 0 {
        return Ok(None);
    }
    let message = meta
        .get("grpc-message")
        .map(percent_decode)
        .unwrap_or_default();
    let retry_after = meta
        .get("grpc-status-details-bin")
        .and_then(retry_policy_from_details);
    Ok(Some(Error::Status {
        code,
        message,
        retry_after,
    }))
}

/// The `RPCRetryPolicy` among the details of a `grpc-status-details-bin` value. Details are advisory:
/// if they cannot be read the status still stands, so this answers `None` rather than failing.
pub fn retry_policy_from_details(value: &str) -> Option<Duration> {
    let bytes = base64_decode(value.trim())?;
    crate::protobuf::retry_after_secs_in_status(&bytes).map(retry_after_from_secs)
}

/// Standard base64 with or without `=` padding (gRPC's `-bin` metadata), `None` if malformed.
/// Twenty lines instead of the base64 crate, whose general engine costs ~3 KB of wasm.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text
        .strip_suffix("==")
        .or_else(|| text.strip_suffix('='))
        .unwrap_or(text);
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    // Leftover bits must be zero, as a canonical encoder leaves them.
    (acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// A redirect is an answer of its own, never followed (the transports ask for that: fetch with
/// `redirect: "manual"`). HTTP 3xx, or 0: the opaque redirect a browser's fetch gives instead.
fn redirect_error(status: u16, headers: &Metadata<'_>) -> Option<Error> {
    if status != 0 && !(300..=399).contains(&status) {
        return None;
    }
    Some(Error::Redirect {
        status,
        to: headers.get("location").map(redirect_target),
    })
}

/// Where a `location` points, said without its path, query or credentials: the quoted origin
/// (`"https://login.example.com"`), or that it stays on the same server.
pub fn redirect_target(location: &str) -> String {
    let location = location.trim();
    let scheme_chars = location
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .unwrap_or(location.len());
    let (scheme, rest) = if scheme_chars > 0
        && location.as_bytes()[0].is_ascii_alphabetic()
        && location[scheme_chars..].starts_with("://")
    {
        (&location[..scheme_chars], &location[scheme_chars + 3..])
    } else if let Some(rest) = location.strip_prefix("//") {
        ("", rest)
    } else {
        return "another path of the same server".to_owned();
    };
    let authority_end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // No credentials: what follows the last `@` is the host.
    let host_from = authority
        .bytes()
        .rposition(|b| b == b'@')
        .map_or(0, |at| at + 1);
    let mut origin = scheme.to_ascii_lowercase();
    origin.push_str(if scheme.is_empty() { "//" } else { "://" });
    origin.push_str(&authority[host_from..]);
    crate::validate::quote(&origin)
}

/// gRPC's mapping of HTTP statuses for answers that carry no `grpc-status`.
/// `grpc`: the client spoke plain gRPC (the hint differs).
fn http_status_error(status: u16, grpc: bool) -> Error {
    let code = match status {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    let hint = match status {
        404 | 405 | 415 if grpc => {
            "; this URL does not answer plain gRPC (a gRPC-web gateway needs transport: \"fetch\")"
        }
        404 | 405 | 415 => {
            "; this URL does not answer gRPC-web (Modal's own API needs a modal-secrets-server \
             gateway in front of it)"
        }
        _ => "",
    };
    Error::Status {
        code,
        message: format!("the server answered HTTP {status} without a gRPC status{hint}"),
        retry_after: None,
    }
}

/// `application/grpc-web` (`application/grpc` when `grpc`), optionally `+proto`, with optional
/// parameters. The base64 `-text` variant is refused: this client never asks for it.
fn is_binary(content_type: &str, grpc: bool) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let essence = essence.strip_suffix("+proto").unwrap_or(&essence);
    essence
        == if grpc {
            GRPC_CONTENT_TYPE
        } else {
            CONTENT_TYPE_BASE
        }
}

struct Frames<'a> {
    /// The first data frame, and how many there were.
    messages: (Option<&'a [u8]>, usize),
    trailers: Option<&'a [u8]>,
}

fn split_frames(mut body: &[u8], limits: Limits) -> Result<Frames<'_>, Malformed> {
    let mut frames = Frames {
        messages: (None, 0),
        trailers: None,
    };
    while !body.is_empty() {
        if frames.trailers.is_some() {
            return Err(Malformed::DataAfterTrailers);
        }
        let Some((header, rest)) = body.split_first_chunk::<FRAME_HEADER_LEN>() else {
            return Err(Malformed::TruncatedFrameHeader(body.len()));
        };
        let flags = header[0];
        let announced = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        if flags & FLAG_COMPRESSED != 0 {
            return Err(Malformed::Compressed);
        }
        if flags & !FLAG_TRAILERS != 0 {
            return Err(Malformed::UnknownFrameFlags(flags));
        }
        let len = usize::try_from(announced).unwrap_or(usize::MAX);
        if len > limits.max_frame_bytes {
            return Err(Malformed::FrameTooLarge {
                announced,
                limit: limits.max_frame_bytes,
            });
        }
        if len > rest.len() {
            return Err(Malformed::TruncatedFrame {
                announced,
                available: rest.len(),
            });
        }
        let (payload, after) = rest.split_at(len);
        if flags & FLAG_TRAILERS != 0 {
            frames.trailers = Some(payload);
        } else {
            let (first, count) = frames.messages;
            frames.messages = (first.or(Some(payload)), count + 1);
        }
        body = after;
    }
    Ok(frames)
}

/// Header or trailer entries, looked up by lowercase name.
struct Metadata<'a> {
    entries: Vec<(&'a str, &'a str)>,
}

impl<'a> Metadata<'a> {
    fn from_pairs(pairs: &'a [(String, String)]) -> Metadata<'a> {
        Metadata {
            entries: pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        }
    }

    /// The trailer frame's `name: value` lines, separated by CRLF (a bare LF is accepted).
    fn parse_block(text: &'a str) -> Result<Metadata<'a>, Malformed> {
        let mut entries = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let (name, value) = line.split_once(':').ok_or(Malformed::BadTrailers)?;
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(Malformed::BadTrailers);
            }
            entries.push((name, value.trim()));
        }
        Ok(Metadata { entries })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        // A header read here but not listed would never reach us from the npm package's fetch.
        debug_assert!(RESPONSE_HEADERS.split('\n').any(|h| h == name), "{name}");
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    fn warnings(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-modal-warning"))
            .map(|(_, v)| percent_decode(v))
            .collect()
    }
}

/// RFC 7230 token characters, which header names are made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// gRPC's percent-encoding of `grpc-message`; an invalid escape is kept as it is, as the spec asks,
/// and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(value: &str) -> String {
    let hex = |b: Option<&u8>| char::from(*b?).to_digit(16);
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod grpc_tests;
