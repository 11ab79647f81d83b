//! What the server fuzz targets share: the world they run in (a store with a token and a planted
//! secret, a runtime, the call stack under test), an HTTP request made from fuzz bytes, and the
//! answer collected and searched for secrets. (A module of `server_request` and
//! `gateway_request`.)
//!
//! Input bytes:
//!   [0] low nibble: the path (one of the eight served methods, an unknown method, another
//!       service, a bare path); bits 4-5: the content type (application/grpc,
//!       application/grpc-web+proto, application/grpc-web, application/grpc-web-text);
//!       bit 6: send the store's valid token (else only what the headers below hold)
//!   [1] number of extra headers (low 3 bits)   [2] body chunk size (0: one chunk)
//!   [3..7] the peer's IPv4 address (for the per-address limit)
//!   then per header: name length, name, value length, value; the rest is the body.

use std::any::Any;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use modal_secrets_server::CallStack;
use modal_secrets_server::local::store::{GetOrCreate, Store};
use tokio::runtime::Runtime;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

const PATHS: [&str; 11] = [
    "/modal.client.ModalClient/SecretGetOrCreate",
    "/modal.client.ModalClient/SecretList",
    "/modal.client.ModalClient/SecretDelete",
    "/modal.client.ModalClient/SecretUpdate",
    "/modal.client.ModalClient/SecretGetInfo",
    "/modal.client.ModalClient/ClientHello",
    "/modal.client.ModalClient/WorkspaceNameLookup",
    "/modal.client.ModalClient/AuthTokenGet",
    "/modal.client.ModalClient/AppCreate",
    "/other.Service/Method",
    "/",
];

const CONTENT_TYPES: [&str; 4] = [
    "application/grpc",
    "application/grpc-web+proto",
    "application/grpc-web",
    "application/grpc-web-text",
];

/// A secret value planted in the store: it must never come back in an answer.
const PLANTED_VALUE: &str = "fuzz-planted-value-8c1f";

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (head, tail) = data.split_at(n);
    *data = tail;
    head
}

/// The request the bytes describe, sent with `token` when they ask for it; `None` if the bytes
/// make no HTTP request at all.
fn request(input: &[u8], token: (&str, &str)) -> Option<http::Request<tonic::body::Body>> {
    let mut data = input;
    let head = take(&mut data, 7);
    let byte = |i: usize| head.get(i).copied().unwrap_or(0);
    let path = PATHS[usize::from(byte(0) & 0x0f) % PATHS.len()];
    let content_type = CONTENT_TYPES[usize::from((byte(0) >> 4) & 3)];
    let with_token = byte(0) & 0x40 != 0;
    let n_headers = byte(1) & 7;
    let chunk = usize::from(byte(2));
    let peer = Ipv4Addr::new(byte(3), byte(4), byte(5), byte(6));

    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .header("content-type", content_type);
    if with_token {
        request = request
            .header("x-modal-token-id", token.0)
            .header("x-modal-token-secret", token.1);
    }
    for _ in 0..n_headers {
        let len = usize::from(take(&mut data, 1).first().copied().unwrap_or(0) % 64);
        let name = take(&mut data, len).to_vec();
        let len = usize::from(take(&mut data, 1).first().copied().unwrap_or(0));
        let value = take(&mut data, len).to_vec();
        // Only what an HTTP server could have parsed reaches the service.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(&name),
            http::HeaderValue::from_bytes(&value),
        ) {
            request = request.header(name, value);
        }
    }
    let body = Bytes::copy_from_slice(data);
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = if chunk == 0 {
        vec![Ok(http_body::Frame::data(body))]
    } else {
        body.chunks(chunk)
            .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
            .collect()
    };
    let body = tonic::body::Body::new(StreamBody::new(tokio_stream::iter(chunks)));
    let mut request = request.body(body).ok()?;
    request.extensions_mut().insert(TcpConnectInfo {
        local_addr: None,
        remote_addr: Some(SocketAddr::from((peer, 40000))),
    });
    Some(request)
}

/// Sends `request` through `stack` and returns every byte of the answer: headers, body, trailers.
async fn answer(stack: CallStack, request: http::Request<tonic::body::Body>) -> Vec<u8> {
    let response = stack.oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let mut seen = Vec::new();
    for (name, value) in &parts.headers {
        seen.extend_from_slice(name.as_str().as_bytes());
        seen.extend_from_slice(value.as_bytes());
    }
    if let Ok(collected) = body.collect().await {
        for (name, value) in collected.trailers().into_iter().flatten() {
            seen.extend_from_slice(name.as_str().as_bytes());
            seen.extend_from_slice(value.as_bytes());
        }
        seen.extend_from_slice(&collected.to_bytes());
    }
    seen
}

/// Panics if any of `secrets` is in `seen`, unless the request itself carried it (an answer may
/// quote what the caller sent, such as a malformed id: that reveals nothing).
fn assert_none_in(seen: &[u8], secrets: &[&str], input: &[u8]) {
    let contains = |haystack: &[u8], needle: &str| {
        haystack
            .windows(needle.len())
            .any(|win| win == needle.as_bytes())
    };
    for secret in secrets {
        if !contains(input, secret) {
            assert!(!contains(seen, secret), "a secret came back in the answer");
        }
    }
}

/// What a target keeps from one input to the next: built once, on the first input.
pub struct World {
    runtime: Runtime,
    stack: CallStack,
    token_id: String,
    token_secret: String,
    /// What the stack needs alive (an upstream server, say), then the store's directory.
    _keep: Box<dyn Any + Send + Sync>,
    _dir: tempfile::TempDir,
}

impl World {
    /// A store holding a token and one planted secret, a current-thread runtime, and the call
    /// stack `make` builds on them (with anything it needs kept alive).
    pub fn new(
        make: impl FnOnce(&Runtime, &Path, Arc<Store>) -> (CallStack, Box<dyn Any + Send + Sync>),
    ) -> World {
        let (dir, store, token_id, token_secret) = planted_store();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (stack, keep) = make(&runtime, dir.path(), store);
        World {
            runtime,
            stack,
            token_id,
            token_secret,
            _keep: keep,
            _dir: dir,
        }
    }

    /// One fuzz input: the request it describes (if any) through the stack, and neither the
    /// planted value nor the token secret in the answer.
    pub fn run(&self, input: &[u8]) {
        let Some(request) = request(input, (&self.token_id, &self.token_secret)) else {
            return;
        };
        let seen = self.runtime.block_on(answer(self.stack.clone(), request));
        assert_none_in(&seen, &[PLANTED_VALUE, &self.token_secret], input);
    }
}

/// A temporary directory on tmpfs where there is one (fsync is then cheap and the fuzzer fast),
/// with a store holding a token and one planted secret.
fn planted_store() -> (tempfile::TempDir, Arc<Store>, String, String) {
    modal_secrets_server::log::set_quiet(true);
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        tempfile::tempdir_in("/dev/shm")
    } else {
        tempfile::tempdir()
    }
    .expect("tempdir");
    let store = Arc::new(Store::open(&dir.path().join("data")).expect("store"));
    let token = store.create_token("fuzz").expect("token");
    let ws = store.token(&token.token_id).unwrap().unwrap().workspace;
    store
        .get_or_create(
            &ws,
            "",
            "planted",
            GetOrCreate::CreateIfMissing([("PLANTED".to_owned(), PLANTED_VALUE.to_owned())].into()),
            &[],
        )
        .expect("planted secret");
    (
        dir,
        store,
        token.token_id,
        token.token_secret.expose().clone(),
    )
}
