//! Any request to the local server's call handling (`modal_secrets_server::local_call_stack`: the
//! gRPC-web translation, authentication and the failed-authentication limit, the framing checks,
//! the strict protobuf decoder and every method's validation), in-process on a real store: an
//! answer every time, never a panic, and never a value or token secret in the answer.
//!
//! Input bytes:
//!   [0] low nibble: the path (one of the eight served methods, an unknown method, another
//!       service, a bare path); bits 4-5: the content type (application/grpc,
//!       application/grpc-web+proto, application/grpc-web, application/grpc-web-text);
//!       bit 6: send the store's valid token (else only what the headers below hold)
//!   [1] number of extra headers (low 3 bits)   [2] body chunk size (0: one chunk)
//!   [3..7] the peer's IPv4 address (for the per-address limit)
//!   then per header: name length, name, value length, value; the rest is the body.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use libfuzzer_sys::fuzz_target;
use modal_secrets_server::store::Store;
use modal_secrets_server::throttle::AuthLimit;
use modal_secrets_server::{CallStack, local_call_stack};
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

/// A secret value and the token secret: neither may ever come back in an answer.
const PLANTED_VALUE: &str = "fuzz-planted-value-8c1f";

struct World {
    runtime: tokio::runtime::Runtime,
    stack: CallStack,
    token_id: String,
    token_secret: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        modal_secrets_server::log::set_quiet(true);
        // On tmpfs where there is one: fsync is then cheap and the fuzzer fast.
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm")
        } else {
            tempfile::tempdir()
        }
        .expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).expect("store"));
        let token = store.create_token("fuzz").expect("token");
        let ws = store.token(&token.token_id).unwrap().unwrap().workspace;
        store
            .get_or_create(
                &ws,
                "",
                "planted",
                modal_secrets_server::store::GetOrCreate::CreateIfMissing(
                    [("PLANTED".to_owned(), PLANTED_VALUE.to_owned())].into(),
                ),
                &[],
            )
            .expect("planted secret");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let stack = local_call_stack(store, AuthLimit::default());
        World {
            runtime,
            stack,
            token_id: token.token_id,
            token_secret: token.token_secret.expose().clone(),
            _dir: dir,
        }
    })
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (head, tail) = data.split_at(n);
    *data = tail;
    head
}

fuzz_target!(|input: &[u8]| {
    let w = world();
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
            .header("x-modal-token-id", &w.token_id)
            .header("x-modal-token-secret", &w.token_secret);
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
    let Ok(mut request) = request.body(body) else {
        return;
    };
    request.extensions_mut().insert(TcpConnectInfo {
        local_addr: None,
        remote_addr: Some(SocketAddr::from((peer, 40000))),
    });

    let stack = w.stack.clone();
    let answer = w.runtime.block_on(async move {
        let response = stack.oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let collected: Option<(Option<http::HeaderMap>, Bytes)> = match body.collect().await {
            Ok(c) => Some((c.trailers().cloned(), c.to_bytes())),
            Err(_) => None,
        };
        (parts, collected)
    });
    let (parts, collected) = answer;
    let mut seen = Vec::new();
    for (name, value) in &parts.headers {
        seen.extend_from_slice(name.as_str().as_bytes());
        seen.extend_from_slice(value.as_bytes());
    }
    if let Some((trailers, bytes)) = collected {
        seen.extend_from_slice(&bytes);
        for (name, value) in trailers.iter().flatten() {
            seen.extend_from_slice(name.as_str().as_bytes());
            seen.extend_from_slice(value.as_bytes());
        }
    }
    for secret in [PLANTED_VALUE, w.token_secret.as_str()] {
        assert!(
            !seen
                .windows(secret.len())
                .any(|win| win == secret.as_bytes()),
            "a secret came back in the answer"
        );
    }
});
