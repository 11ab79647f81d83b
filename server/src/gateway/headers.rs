//! Which headers cross the gateway: the caller's on the way to the upstream, and the upstream's on
//! the way back. Hop-by-hop headers never do, nor what would let a caller pick where a call goes or
//! who it claims to be, nor what would apply the upstream's browser policies to the gateway's
//! origin.

use http::header::{self, HeaderMap, HeaderName};

/// Whether a caller's header goes on to the upstream. Everything does except:
/// - hop-by-hop headers (RFC 9110 §7.6.1: `Connection` and what it names, `Keep-Alive`,
///   `Transfer-Encoding`, `TE` (set to `trailers` by the gateway), `Upgrade`, `Proxy-*`, …) and
///   `Content-Length` (the body is re-framed);
/// - `Host` (the upstream's authority is set by the gateway) and `Forwarded`/`X-Forwarded-*`/
///   `X-Real-IP`/`Via` (they would be the caller's claim; the gateway sets its own
///   `X-Forwarded-For`, from [`ClientAddr`](crate::http::client_addr::ClientAddr));
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

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

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
