//! CORS for browsers calling over gRPC-web: preflight answered for the headers Modal's clients send
//! (WIRE.md) plus gRPC-web's own, the status headers exposed, and only known origins allowed: the
//! server's own and those given with `--allow-origin` (`*` allows any).

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Request headers a browser may send.
pub const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-modal-token-id",
    "x-modal-token-secret",
    "x-modal-client-type",
    "x-modal-client-version",
    "x-modal-host",
    "x-modal-auth-token",
    "x-idempotency-key",
    "x-retry-attempt",
    "x-retry-delay",
];

/// Response headers a browser's script may read.
pub const EXPOSED_HEADERS: &[&str] = &[
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "x-modal-warning",
];

/// How long a browser may cache a preflight answer (Chromium caps this at two hours).
const MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// The origins a page served by this server itself has: its bound address, and for a loopback or
/// unspecified address the usual loopback names.
pub fn own_origins(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            let origin = format!("http://{host}:{port}");
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    origins
}

/// An `--allow-origin` value as a browser sends it in `Origin`: `scheme://host[:port]`, no path.
pub fn normalize_origin(origin: &str) -> Result<String, String> {
    let origin = origin.trim().trim_end_matches('/');
    if origin == "*" {
        return Ok(origin.to_owned());
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .ok_or_else(|| format!("origin {origin:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains('/') || !rest.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "origin {origin:?} must be scheme://host[:port], with no path"
        ));
    }
    Ok(origin.to_ascii_lowercase())
}

/// The CORS layer for these origins. A gateway (`gateway_mode`) also exposes `*`: any other
/// metadata the upstream answers with is readable by the page too (the named ones stay listed for
/// browsers that predate the wildcard; no credentials are ever allowed, which the wildcard needs).
pub fn layer(origins: &[String], gateway_mode: bool) -> Result<CorsLayer, String> {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let values = origins
            .iter()
            .map(|o| HeaderValue::from_str(o).map_err(|_| format!("origin {o:?} is not valid")))
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(values)
    };
    Ok(CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(
            ALLOWED_HEADERS
                .iter()
                .map(|h| HeaderName::from_static(h))
                .collect::<Vec<_>>(),
        )
        .expose_headers(
            EXPOSED_HEADERS
                .iter()
                .copied()
                .chain(gateway_mode.then_some("*"))
                .map(HeaderName::from_static)
                .collect::<Vec<_>>(),
        )
        .max_age(MAX_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let own = own_origins("127.0.0.1:8787".parse().unwrap());
        assert_eq!(
            own,
            [
                "http://127.0.0.1:8787",
                "http://localhost:8787",
                "http://[::1]:8787"
            ]
        );
        assert_eq!(
            own_origins("10.0.0.2:80".parse().unwrap()),
            ["http://10.0.0.2:80"]
        );
        assert_eq!(
            normalize_origin("https://App.example.com/").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(normalize_origin("*").unwrap(), "*");
        assert!(normalize_origin("app.example.com").is_err());
        assert!(normalize_origin("https://a.com/path").is_err());
        assert!(normalize_origin("https://").is_err());
    }
}
