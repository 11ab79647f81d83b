//! Plain `GET` and `HEAD`: the dashboard (`--www`, served at `/`, `index.html` for a directory) and
//! the built npm package (`--pkg`, served at `/pkg/`). Every other request (gRPC and gRPC-web are
//! `POST`, CORS preflight is `OPTIONS`) goes on to the gRPC stack untouched.
//!
//! Files come from tower-http's `ServeDir`, which refuses `..`, absolute and prefixed paths (also
//! percent-encoded) and never lists a directory. On top of it: hidden names (a segment starting
//! with `.`) are refused too, content types are set for what the package ships (`.wasm`, `.mjs`,
//! `.cjs`, `.d.ts`), errors get a small HTML page instead of an empty body, and every answer carries
//! a strict `Content-Security-Policy`, `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer` and `Cache-Control: no-cache` (a rebuilt package is picked up at
//! once; unchanged files still get 304 through `Last-Modified`).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use percent_encoding::percent_decode_str;
use tower::{Layer, Service, ServiceExt};
use tower_http::services::ServeDir;

type ReqBody = tonic::body::Body;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a static answer.
pub type StaticBody = UnsyncBoxBody<Bytes, BoxError>;

/// The URL prefix of the package.
pub const PKG_PREFIX: &str = "/pkg/";

/// Where the files come from, and which origins the dashboard's scripts may call.
#[derive(Clone, Debug)]
pub struct StaticConfig {
    pub www_dir: PathBuf,
    pub pkg_dir: PathBuf,
    /// Origins (already normalized) added to `connect-src` beside `'self'`; `*` allows any.
    pub connect_origins: Vec<String>,
}

/// The policy for every static answer: scripts, styles and images only from this server (and
/// WebAssembly compiled from them), calls only to this server and the allowed origins, no framing,
/// no `<base>`, forms only to this server. No inline script or style anywhere.
pub fn content_security_policy(connect_origins: &[String]) -> Result<HeaderValue, String> {
    let mut connect = String::from("'self'");
    for origin in connect_origins {
        // Origins reach here normalized (cors::normalize_origin); re-check what CSP syntax
        // cannot hold, so that no origin can add a directive.
        if origin.is_empty()
            || !origin
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b';' | b',' | b'\'' | b'"'))
        {
            return Err(format!("origin {origin:?} cannot appear in a policy"));
        }
        connect.push(' ');
        connect.push_str(origin);
    }
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'self'"
    );
    HeaderValue::from_str(&policy).map_err(|_| "the policy is not a valid header".to_owned())
}

#[derive(Clone)]
pub struct StaticLayer {
    files: Arc<Files>,
}

struct Files {
    www: ServeDir,
    pkg: ServeDir,
    www_dir: PathBuf,
    pkg_dir: PathBuf,
    csp: HeaderValue,
}

impl StaticLayer {
    pub fn new(config: &StaticConfig) -> Result<StaticLayer, String> {
        let csp = content_security_policy(&config.connect_origins)?;
        Ok(StaticLayer {
            files: Arc::new(Files {
                www: ServeDir::new(&config.www_dir),
                // The package has no index page: a directory is a 404, not a redirect (which
                // would also lack the /pkg prefix).
                pkg: ServeDir::new(&config.pkg_dir).append_index_html_on_directories(false),
                www_dir: config.www_dir.clone(),
                pkg_dir: config.pkg_dir.clone(),
                csp,
            }),
        })
    }
}

impl<S> Layer<S> for StaticLayer {
    type Service = StaticService<S>;

    fn layer(&self, inner: S) -> StaticService<S> {
        StaticService {
            inner,
            files: Arc::clone(&self.files),
        }
    }
}

#[derive(Clone)]
pub struct StaticService<S> {
    inner: S,
    files: Arc<Files>,
}

impl<S, B> Service<Request<ReqBody>> for StaticService<S>
where
    S: Service<Request<ReqBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    // tonic's body: CORS needs a `Default` body, and wrapping a tonic body again is free.
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.method() == Method::GET || request.method() == Method::HEAD {
            let files = Arc::clone(&self.files);
            return Box::pin(
                async move { Ok(files.serve(request).await.map(tonic::body::Body::new)) },
            );
        }
        // Call the instance that was polled ready; leave a fresh clone for the next request.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(async move { Ok(inner.call(request).await?.map(tonic::body::Body::new)) })
    }
}

/// Which tree a request path is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tree {
    Www,
    Pkg,
}

impl Files {
    async fn serve(&self, request: Request<ReqBody>) -> Response<StaticBody> {
        let head = request.method() == Method::HEAD;
        let mut response = self.answer(request).await;
        let headers = response.headers_mut();
        headers.insert("content-security-policy", self.csp.clone());
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if head {
            // hyper sends no body for HEAD anyway; do not even produce one.
            let (parts, _) = response.into_parts();
            return Response::from_parts(parts, empty());
        }
        response
    }

    async fn answer(&self, request: Request<ReqBody>) -> Response<StaticBody> {
        let path = request.uri().path();
        let (tree, inner_path) = match path.strip_prefix(PKG_PREFIX) {
            Some(rest) => (Tree::Pkg, format!("/{rest}")),
            None => (Tree::Www, path.to_owned()),
        };
        // What the path names once decoded: refuse anything hidden (`.git`, `.env`) and, with
        // it, every `.` and `..` segment; ServeDir also refuses `..`, absolute and prefixed paths.
        let Ok(decoded) = percent_decode_str(&inner_path).decode_utf8() else {
            return self.error_page(StatusCode::NOT_FOUND, tree);
        };
        // `//name` would make ServeDir's directory redirect (`Location: //name/`) point at
        // another host.
        if inner_path.starts_with("//")
            || decoded.contains("//")
            || decoded.split('/').any(|s| s.starts_with('.'))
        {
            return self.error_page(StatusCode::NOT_FOUND, tree);
        }
        let content_type = content_type(&decoded);

        let path_and_query = match request.uri().query() {
            Some(query) => format!("{inner_path}?{query}"),
            None => inner_path.clone(),
        };
        let Ok(uri) = Uri::builder().path_and_query(path_and_query).build() else {
            return self.error_page(StatusCode::BAD_REQUEST, tree);
        };
        // ServeDir reads only the method, path and the conditional and range headers.
        let mut inner = Request::new(Empty::<Bytes>::new());
        *inner.method_mut() = request.method().clone();
        *inner.uri_mut() = uri;
        for name in [
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
            header::RANGE,
            header::IF_RANGE,
        ] {
            if let Some(value) = request.headers().get(&name) {
                inner.headers_mut().insert(name, value.clone());
            }
        }
        let dir = match tree {
            Tree::Www => self.www.clone(),
            Tree::Pkg => self.pkg.clone(),
        };
        let response = match dir.oneshot(inner).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        if (status.is_client_error() || status.is_server_error())
            && status != StatusCode::RANGE_NOT_SATISFIABLE
        {
            return self.error_page(status, tree);
        }
        let (mut parts, body) = response.into_parts();
        if status.is_success()
            && let Some(content_type) = content_type
        {
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        Response::from_parts(parts, body.map_err(Into::into).boxed_unsync())
    }

    fn error_page(&self, status: StatusCode, tree: Tree) -> Response<StaticBody> {
        let reason = status.canonical_reason().unwrap_or("Error");
        let code = status.as_u16();
        let detail = match (status, tree) {
            (StatusCode::NOT_FOUND, Tree::Www) if !self.www_dir.is_dir() => {
                "This server has no dashboard files: its --www directory does not exist. \
                 Run the server from the repository root, or pass --www DIR."
            }
            (StatusCode::NOT_FOUND, Tree::Pkg) if !self.pkg_dir.is_dir() => {
                "This server has no package files: its --pkg directory does not exist. \
                 Build the package with npm run build, or pass --pkg DIR."
            }
            (StatusCode::NOT_FOUND, _) => "There is no file at this address.",
            _ => "The file could not be served.",
        };
        let page = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>{code} {reason}</title></head>\n<body>\n<h1>{code} {reason}</h1>\n\
             <p>{detail}</p>\n<p><a href=\"/\">modal-secrets-server</a></p>\n</body>\n</html>\n"
        );
        let mut response = Response::new(
            Full::new(Bytes::from(page))
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }
}

fn empty() -> StaticBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// The content type for a decoded request path, where the default guess is wrong or lacks a
/// charset; `None` keeps ServeDir's guess. A directory (trailing `/`) is its `index.html`.
fn content_type(path: &str) -> Option<&'static str> {
    let name = path.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        return Some("text/html; charset=utf-8");
    }
    let ext = Path::new(name).extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" | "cjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        // `.d.ts`: mime_guess says MPEG transport stream.
        "ts" | "mts" | "cts" => "application/typescript; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(content_type("/"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("/a/"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("/x.wasm"), Some("application/wasm"));
        assert_eq!(
            content_type("/node.MJS"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(
            content_type("/index.d.ts"),
            Some("application/typescript; charset=utf-8")
        );
        assert_eq!(content_type("/LICENSE"), None);
        assert_eq!(content_type("/a.png"), None);
    }

    #[test]
    fn policy() {
        let csp = content_security_policy(&["https://app.example.com".to_owned()]).unwrap();
        let csp = csp.to_str().unwrap();
        assert!(csp.contains("connect-src 'self' https://app.example.com;"));
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';"));
        assert!(content_security_policy(&["https://a.com; script-src *".to_owned()]).is_err());
        assert!(content_security_policy(&["https://a.com,b".to_owned()]).is_err());
    }
}
