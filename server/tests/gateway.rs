//! Gateway mode (`serve --upstream URL`), against real ports: a gateway in front of a local server
//! gives the same answers as the server itself (successes and errors, byte for byte); in front of a
//! scripted HTTP/2 upstream it passes error details, warnings and other metadata through unchanged,
//! forwards the caller's headers minus the dropped ones, and never goes anywhere but its upstream;
//! an unreachable upstream is UNAVAILABLE; CORS and static files work as in local mode.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use common::{
    Grpc, ServerProcess, TestServer, Token, Web, WebResponse, create_request, lookup_request,
};
use http::{HeaderMap, HeaderValue};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use modal_secrets_core::Code;
use modal_secrets_core::proto::{
    AuthTokenGetRequest, AuthTokenGetResponse, ClientHelloResponse, ListPagination,
    ObjectCreationType, RpcRetryPolicy, RpcStatus, SecretDeleteRequest, SecretGetInfoRequest,
    SecretGetInfoResponse, SecretGetOrCreateRequest, SecretGetOrCreateResponse, SecretListRequest,
    SecretUpdateRequest, secret_update_request::Update,
};
use modal_secrets_server::{Config, Running};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PREFIX: &str = "/modal.client.ModalClient/";

async fn gateway(config: Config) -> Running {
    modal_secrets_server::log::set_quiet(true);
    modal_secrets_server::start(config)
        .await
        .expect("the gateway starts")
}

async fn gateway_to(upstream: &str) -> Running {
    gateway(Config::gateway("127.0.0.1:0", upstream)).await
}

/// A gateway to a scripted upstream, whose made-up method names (`TrailersOnly`, `Broken`, …) are
/// forwarded only with `--forward-all-methods`.
async fn scripted_gateway(upstream: &str) -> Running {
    gateway(Config {
        forward_all_methods: true,
        ..Config::gateway("127.0.0.1:0", upstream)
    })
    .await
}

/// A local server and a gateway in front of it.
struct Pair {
    server: TestServer,
    gateway: Running,
}

impl Pair {
    async fn start() -> Pair {
        let server = TestServer::start().await;
        let gateway = gateway_to(&server.url).await;
        assert!(gateway.store().is_none(), "a gateway opens no store");
        Pair { server, gateway }
    }

    fn direct(&self) -> Web {
        self.server.web()
    }

    fn via(&self) -> Web {
        Web::http1(&self.gateway.url(), self.server.token.clone())
    }

    fn via_h2(&self) -> Web {
        Web::http2(&self.gateway.url(), self.server.token.clone())
    }

    fn with_token(web: &Web, token: Option<Token>) -> Web {
        Web {
            http: web.http.clone(),
            url: web.url.clone(),
            token,
        }
    }
}

/// The same answer: HTTP status, every header, and the body (message frames and the gRPC-web
/// trailer frame) byte for byte. Except `date`, and `access-control-expose-headers`, which a
/// gateway ends with `*` (it exposes whatever metadata its upstream sends).
fn assert_same(what: &str, direct: &WebResponse, via: &WebResponse) {
    let headers = |r: &WebResponse| {
        let mut h: Vec<(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| k != "date")
            .map(|(k, v)| match k.as_str() {
                "access-control-expose-headers" => (k.clone(), v.trim_end_matches(",*").to_owned()),
                _ => (k.clone(), v.clone()),
            })
            .collect();
        h.sort();
        h
    };
    assert_eq!(direct.status, via.status, "{what}: HTTP status");
    assert_eq!(headers(direct), headers(via), "{what}: headers");
    assert_eq!(direct.body, via.body, "{what}: body");
}

/// Calls `method` directly and through the gateway (HTTP/1.1, and HTTP/2 when `h2`) and checks
/// the answers are the same; returns the direct one.
async fn same(pair: &Pair, what: &str, method: &str, message: &impl Message) -> WebResponse {
    let direct = pair.direct().call(method, message).await;
    let via = pair.via().call(method, message).await;
    assert_same(what, &direct, &via);
    let via_h2 = pair.via_h2().call(method, message).await;
    assert_eq!(direct.body, via_h2.body, "{what} over HTTP/2: body");
    assert_eq!(direct.code(), via_h2.code(), "{what} over HTTP/2");
    direct
}

fn frame(message: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    body
}

fn info_request(id: &str) -> SecretGetInfoRequest {
    SecretGetInfoRequest {
        secret_id: id.to_owned(),
    }
}

fn list_request() -> SecretListRequest {
    SecretListRequest {
        environment_name: String::new(),
        pagination: Some(ListPagination {
            max_objects: 100,
            created_before: 0.0,
        }),
    }
}

#[tokio::test]
async fn successes_are_the_same_through_the_gateway() {
    let pair = Pair::start().await;
    let (direct, via) = (pair.direct(), pair.via());

    // Create through the gateway: the secret is in the upstream's store.
    let created: SecretGetOrCreateResponse = via
        .call(
            "SecretGetOrCreate",
            &create_request(
                "through-gateway",
                ObjectCreationType::CreateFailIfExists,
                &[("A", "1"), ("B", "2")],
            ),
        )
        .await
        .decode()
        .unwrap();
    let id = created.secret_id;
    assert!(id.starts_with("st-"));
    assert_eq!(created.metadata.unwrap().keys, ["A", "B"]);
    let second: SecretGetOrCreateResponse = direct
        .call(
            "SecretGetOrCreate",
            &create_request(
                "second",
                ObjectCreationType::CreateFailIfExists,
                &[("X", "")],
            ),
        )
        .await
        .decode()
        .unwrap();

    // Reads: the same bytes both ways.
    let found = same(
        &pair,
        "lookup",
        "SecretGetOrCreate",
        &lookup_request("through-gateway"),
    )
    .await;
    assert_eq!(
        found
            .decode::<SecretGetOrCreateResponse>()
            .unwrap()
            .secret_id,
        id
    );
    // A create that finds the secret (type 1) answers it untouched.
    same(
        &pair,
        "create-if-missing of an existing secret",
        "SecretGetOrCreate",
        &create_request("second", ObjectCreationType::CreateIfMissing, &[("Y", "1")]),
    )
    .await;
    same(&pair, "info", "SecretGetInfo", &info_request(&id)).await;
    let list = same(&pair, "list", "SecretList", &list_request()).await;
    assert_eq!(
        list.decode::<modal_secrets_core::proto::SecretListResponse>()
            .unwrap()
            .items
            .len(),
        2
    );
    same(&pair, "hello", "ClientHello", &()).await;
    same(&pair, "workspace", "WorkspaceNameLookup", &()).await;

    // Update: the same (idempotent) update answers the same both ways, and lands upstream.
    let update = SecretUpdateRequest {
        secret_id: id.clone(),
        updates: vec![
            Update {
                key: "C".into(),
                value: Some("3".into()),
            },
            Update {
                key: "A".into(),
                value: None,
            },
        ],
    };
    let updated_via = via.call("SecretUpdate", &update).await;
    let updated_direct = direct.call("SecretUpdate", &update).await;
    assert_same("update", &updated_direct, &updated_via);
    updated_via.decode::<()>().unwrap();
    let info: SecretGetInfoResponse = direct
        .call("SecretGetInfo", &info_request(&id))
        .await
        .decode()
        .unwrap();
    assert_eq!(info.metadata.unwrap().keys, ["B", "C"]);

    // A JWT from AuthTokenGet through the gateway is accepted back through it.
    let jwt: AuthTokenGetResponse = via
        .call("AuthTokenGet", &AuthTokenGetRequest {})
        .await
        .decode()
        .unwrap();
    let anonymous = Pair::with_token(&via, None);
    let hello = anonymous
        .call_raw(
            "ClientHello",
            frame(&[]),
            &[("x-modal-auth-token", &jwt.token)],
        )
        .await;
    hello.decode::<ClientHelloResponse>().unwrap();

    // Delete: one through the gateway, one directly; the same answer, both gone upstream.
    let deleted_via = via
        .call(
            "SecretDelete",
            &SecretDeleteRequest {
                secret_id: id.clone(),
            },
        )
        .await;
    let deleted_direct = direct
        .call(
            "SecretDelete",
            &SecretDeleteRequest {
                secret_id: second.secret_id.clone(),
            },
        )
        .await;
    assert_same("delete", &deleted_direct, &deleted_via);
    deleted_via.decode::<()>().unwrap();
    for name in ["through-gateway", "second"] {
        let gone = direct
            .call("SecretGetOrCreate", &lookup_request(name))
            .await;
        assert_eq!(gone.code(), Code::NotFound, "{name}");
    }
}

#[tokio::test]
async fn errors_are_the_same_through_the_gateway() {
    let pair = Pair::start().await;
    let direct = pair.direct();
    direct
        .call(
            "SecretGetOrCreate",
            &create_request(
                "taken",
                ObjectCreationType::CreateFailIfExists,
                &[("K", "v")],
            ),
        )
        .await
        .decode::<SecretGetOrCreateResponse>()
        .unwrap();

    // Authentication: no token, a wrong secret, an unknown token id.
    let wrong = Token {
        id: pair.server.token.id.clone(),
        secret: "as-wrong".into(),
    };
    let unknown = Token {
        id: "ak-0000000000000000000000".into(),
        secret: "as-whatever".into(),
    };
    for (what, token) in [
        ("no token", None),
        ("wrong secret", Some(wrong)),
        ("unknown token", Some(unknown)),
    ] {
        let direct = Pair::with_token(&pair.direct(), token.clone())
            .call("SecretList", &list_request())
            .await;
        let via = Pair::with_token(&pair.via(), token)
            .call("SecretList", &list_request())
            .await;
        assert_eq!(direct.code(), Code::Unauthenticated, "{what}");
        assert_same(what, &direct, &via);
    }

    let cases: Vec<(&str, &str, Vec<u8>, Code)> = vec![
        (
            "missing",
            "SecretGetOrCreate",
            lookup_request("nope").encode_to_vec(),
            Code::NotFound,
        ),
        (
            "unknown environment",
            "SecretGetOrCreate",
            SecretGetOrCreateRequest {
                environment_name: "nowhere".into(),
                ..lookup_request("taken")
            }
            .encode_to_vec(),
            Code::NotFound,
        ),
        (
            "unknown id",
            "SecretGetInfo",
            info_request("st-0000000000000000000000").encode_to_vec(),
            Code::NotFound,
        ),
        (
            "exists",
            "SecretGetOrCreate",
            create_request("taken", ObjectCreationType::CreateFailIfExists, &[]).encode_to_vec(),
            Code::AlreadyExists,
        ),
        (
            "bad name",
            "SecretGetOrCreate",
            create_request("bad name!", ObjectCreationType::CreateIfMissing, &[]).encode_to_vec(),
            Code::InvalidArgument,
        ),
        (
            "bad key",
            "SecretGetOrCreate",
            create_request("k", ObjectCreationType::CreateIfMissing, &[("1X", "v")])
                .encode_to_vec(),
            Code::InvalidArgument,
        ),
        (
            "missing required key",
            "SecretGetOrCreate",
            SecretGetOrCreateRequest {
                required_keys: vec!["K".into(), "MISSING".into()],
                ..lookup_request("taken")
            }
            .encode_to_vec(),
            Code::FailedPrecondition,
        ),
        (
            "not protobuf",
            "SecretGetOrCreate",
            vec![0xff, 0xff, 0xff, 0xff],
            Code::InvalidArgument,
        ),
        (
            "unimplemented",
            "AppCreate",
            Vec::new(),
            Code::Unimplemented,
        ),
        (
            "unimplemented 2",
            "FunctionGetOutputs",
            Vec::new(),
            Code::Unimplemented,
        ),
    ];
    for (what, method, message, code) in cases {
        let direct = pair.direct().call_raw(method, frame(&message), &[]).await;
        let via = pair.via().call_raw(method, frame(&message), &[]).await;
        assert_eq!(direct.code(), code, "{what}: {}", direct.message());
        if code == Code::Unimplemented {
            // Not a secrets method: the gateway answers it itself, naming the flag that opens it.
            assert_eq!(via.code(), code, "{what}");
            assert!(via.message().contains("--forward-all-methods"), "{what}");
            continue;
        }
        assert_same(what, &direct, &via);
        let via_h2 = pair.via_h2().call_raw(method, frame(&message), &[]).await;
        assert_eq!(via_h2.code(), code, "{what} over HTTP/2");
        assert_eq!(via_h2.message(), direct.message(), "{what} over HTTP/2");
    }

    // Broken framing, judged by the upstream and answered the same.
    let mut truncated = vec![0, 0, 0, 0, 100];
    truncated.extend_from_slice(&[0x0a, 0x01]);
    for (what, body) in [
        ("truncated", truncated),
        ("compressed", vec![1, 0, 0, 0, 1, 0]),
        ("empty", Vec::new()),
    ] {
        let direct = pair
            .direct()
            .call_raw("SecretGetOrCreate", body.clone(), &[])
            .await;
        let via = pair.via().call_raw("SecretGetOrCreate", body, &[]).await;
        assert_eq!(direct.code(), Code::InvalidArgument, "{what}");
        assert_same(what, &direct, &via);
    }

    // Too big a body: the gateway refuses it itself, with the server's own answer.
    let mut long = vec![0];
    long.extend_from_slice(&(4u32 << 20).to_be_bytes());
    long.resize(5 + (4 << 20) + 100, 0);
    let direct = pair
        .direct()
        .call_raw("SecretGetOrCreate", long.clone(), &[])
        .await;
    let via = pair.via().call_raw("SecretGetOrCreate", long, &[]).await;
    assert_eq!(direct.code(), Code::OutOfRange);
    assert_same("too big", &direct, &via);
}

#[tokio::test]
async fn plain_grpc_callers_get_the_same_through_the_gateway() {
    let pair = Pair::start().await;
    let mut direct = pair.server.grpc().await;
    let mut via = Grpc::connect(&pair.gateway.url(), pair.server.token.clone()).await;
    let id = via.create("grpc-through", &[("A", "1")]).await;
    let found = direct
        .get_or_create(lookup_request("grpc-through"))
        .await
        .unwrap();
    assert_eq!(found.secret_id, id);
    assert_eq!(
        via.get_or_create(lookup_request("grpc-through"))
            .await
            .unwrap(),
        found
    );
    let bad_token = Token {
        id: pair.server.token.id.clone(),
        secret: "as-wrong".into(),
    };
    for (what, request, token) in [
        (
            "missing",
            lookup_request("nope"),
            Some(pair.server.token.clone()),
        ),
        (
            "bad name",
            create_request("bad name", ObjectCreationType::CreateIfMissing, &[]),
            Some(pair.server.token.clone()),
        ),
        ("unauthenticated", lookup_request("x"), Some(bad_token)),
    ] {
        let a = direct
            .with_token(token.clone())
            .get_or_create(request.clone())
            .await
            .unwrap_err();
        let b = via
            .with_token(token)
            .get_or_create(request)
            .await
            .unwrap_err();
        assert_eq!(a.code(), b.code(), "{what}");
        assert_eq!(a.message(), b.message(), "{what}");
        assert_eq!(a.details(), b.details(), "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// A scripted upstream: an HTTP/2 (h2c) server that records every request it gets and answers by
// method name with canned gRPC responses.

#[derive(Clone, Debug)]
struct Seen {
    path: String,
    authority: String,
    headers: HeaderMap,
    body: Bytes,
}

struct Scripted {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Unpadded base64 of an RPCStatus holding an RPCRetryPolicy, as Modal sends it.
fn details_bin() -> String {
    let status = RpcStatus {
        code: 8,
        message: "slow down".into(),
        details: vec![prost_types::Any {
            type_url: "type.modal.com/modal.client.RPCRetryPolicy".into(),
            value: RpcRetryPolicy {
                retry_after_secs: 1.5,
            }
            .encode_to_vec(),
        }],
    };
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec())
}

const MESSAGE: &str = "quota: 50%25 used %E2%9C%93; try again later";
const WARNING_1: &str = "client%20is%20old";
const WARNING_2: &str = "second warning";
/// The message frame of the scripted success (a SecretGetInfoResponse with name "scripted").
fn success_message() -> Vec<u8> {
    let message = SecretGetInfoResponse {
        metadata: Some(modal_secrets_core::proto::SecretMetadata {
            name: "scripted".into(),
            ..Default::default()
        }),
    };
    frame(&message.encode_to_vec())
}

type ScriptBody = BoxBody<Bytes, std::io::Error>;

fn scripted_response(
    status: u16,
    headers: &[(&str, &str)],
    frames: Vec<Result<Frame<Bytes>, std::io::Error>>,
) -> Response<ScriptBody> {
    let mut response = Response::new(StreamBody::new(tokio_stream::iter(frames)).boxed());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

fn trailers(pairs: &[(&str, &str)]) -> Frame<Bytes> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    Frame::trailers(map)
}

async fn script(seen: Arc<Mutex<Vec<Seen>>>, request: Request<Incoming>) -> Response<ScriptBody> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        authority: parts
            .uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    });
    let grpc = ("content-type", "application/grpc");
    let details = details_bin();
    match path.rsplit('/').next().unwrap_or_default() {
        // An error before any message: the status in the headers (trailers-only), with details,
        // warnings, other metadata, and headers the gateway must not pass on.
        "TrailersOnly" => scripted_response(
            200,
            &[
                grpc,
                ("grpc-status", "8"),
                ("grpc-message", MESSAGE),
                ("grpc-status-details-bin", &details),
                ("x-modal-warning", WARNING_1),
                ("x-modal-warning", WARNING_2),
                ("x-upstream-meta", "m1"),
                ("set-cookie", "session=upstream"),
                ("alt-svc", "h3=\":443\""),
                ("access-control-allow-origin", "*"),
                ("strict-transport-security", "max-age=1"),
            ],
            Vec::new(),
        ),
        // An error after the headers: the status in HTTP/2 trailers.
        "ErrorInTrailers" => scripted_response(
            200,
            &[grpc, ("x-upstream-meta", "m2")],
            vec![Ok(trailers(&[
                ("grpc-status", "9"),
                ("grpc-message", MESSAGE),
                ("grpc-status-details-bin", &details),
                ("x-modal-warning", WARNING_1),
                ("x-modal-warning", WARNING_2),
            ]))],
        ),
        "NotGrpc" => scripted_response(
            502,
            &[("content-type", "text/html")],
            vec![Ok(Frame::data(Bytes::from_static(b"<h1>bad gateway</h1>")))],
        ),
        "Reset" => scripted_response(
            200,
            &[grpc],
            vec![Err(std::io::Error::other("the upstream broke"))],
        ),
        "Broken" => {
            // A message, and a while later (so that it is surely out) a reset.
            let (frames, rx) = tokio::sync::mpsc::channel(2);
            tokio::spawn(async move {
                let _ = frames
                    .send(Ok(Frame::data(Bytes::from(success_message()))))
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = frames
                    .send(Err(std::io::Error::other("the upstream broke")))
                    .await;
            });
            let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
            let mut response = Response::new(body.boxed());
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/grpc"));
            response
        }
        "NoTrailers" => scripted_response(
            200,
            &[grpc],
            vec![Ok(Frame::data(Bytes::from(success_message())))],
        ),
        "Slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            scripted_response(200, &[grpc], vec![Ok(trailers(&[("grpc-status", "0")]))])
        }
        // Anything else: a message, then trailers with metadata of their own.
        _ => scripted_response(
            200,
            &[grpc, ("x-upstream-meta", "m3")],
            vec![
                Ok(Frame::data(Bytes::from(success_message()))),
                Ok(trailers(&[
                    ("grpc-status", "0"),
                    ("x-trailer-meta", "t1"),
                    ("x-modal-warning", WARNING_2),
                ])),
            ],
        ),
    }
}

async fn scripted_upstream() -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&recorded);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let seen = Arc::clone(&seen);
                    async move { Ok::<_, Infallible>(script(seen, request).await) }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Scripted { addr, seen }
}

/// A gRPC-web body split into its message frames and its trailer frame's lines.
fn split_web_body(body: &[u8]) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
    let (mut messages, mut trailer_lines) = (Vec::new(), Vec::new());
    let mut rest = body;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let (head, tail) = rest.split_at(5 + len);
        if head[0] & 0x80 != 0 {
            for line in String::from_utf8(head[5..].to_vec()).unwrap().split("\r\n") {
                if let Some((name, value)) = line.split_once(':') {
                    trailer_lines.push((name.to_owned(), value.to_owned()));
                }
            }
        } else {
            messages.push(head.to_vec());
        }
        rest = tail;
    }
    assert!(rest.is_empty(), "trailing bytes in {body:?}");
    (messages, trailer_lines)
}

fn values(headers: &[(String, String)], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

fn token() -> Token {
    Token {
        id: "ak-scripted".into(),
        secret: "as-scripted-secret".into(),
    }
}

#[tokio::test]
async fn details_warnings_and_metadata_come_back_unchanged() {
    let upstream = scripted_upstream().await;
    let gw = scripted_gateway(&upstream.url()).await;
    let web = Web::http1(&gw.url(), token());
    let details = details_bin();

    // Trailers-only: the status, details, warnings and metadata in the HTTP headers, unchanged;
    // the upstream's cookies, Alt-Svc, HSTS and CORS headers dropped.
    let answer = web.call_raw("TrailersOnly", frame(&[]), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("grpc-status"), Some("8"));
    assert_eq!(answer.header("grpc-message"), Some(MESSAGE));
    assert_eq!(
        answer.header("grpc-status-details-bin"),
        Some(details.as_str())
    );
    assert_eq!(
        values(&answer.headers, "x-modal-warning"),
        [WARNING_1, WARNING_2]
    );
    assert_eq!(answer.header("x-upstream-meta"), Some("m1"));
    assert_eq!(
        answer.header("content-type"),
        Some("application/grpc-web+proto")
    );
    for dropped in [
        "set-cookie",
        "alt-svc",
        "access-control-allow-origin",
        "strict-transport-security",
    ] {
        assert_eq!(answer.header(dropped), None, "{dropped}");
    }
    assert!(answer.body.is_empty());
    // As the package reads it: the code, the decoded message, the retry policy from the details.
    match answer.decode::<()>() {
        Err(modal_secrets_core::Error::Status {
            code,
            message,
            retry_after,
        }) => {
            assert_eq!(code, Code::ResourceExhausted);
            assert_eq!(message, "quota: 50% used ✓; try again later");
            assert_eq!(retry_after, Some(Duration::from_millis(1500)));
        }
        other => panic!("{other:?}"),
    }

    // Status in HTTP/2 trailers: the gRPC-web trailer frame holds the same lines.
    let answer = web.call_raw("ErrorInTrailers", frame(&[]), &[]).await;
    assert_eq!(answer.header("grpc-status"), None);
    assert_eq!(answer.header("x-upstream-meta"), Some("m2"));
    let (messages, trailer) = split_web_body(&answer.body);
    assert!(messages.is_empty());
    assert_eq!(values(&trailer, "grpc-status"), ["9"]);
    assert_eq!(values(&trailer, "grpc-message"), [MESSAGE]);
    assert_eq!(
        values(&trailer, "grpc-status-details-bin"),
        std::slice::from_ref(&details)
    );
    assert_eq!(values(&trailer, "x-modal-warning"), [WARNING_1, WARNING_2]);
    assert_eq!(answer.code(), Code::FailedPrecondition);

    // A success: the message frame byte for byte, then trailers with their own metadata.
    for web in [
        Web::http1(&gw.url(), token()),
        Web::http2(&gw.url(), token()),
    ] {
        let answer = web.call_raw("SecretGetInfo", frame(&[]), &[]).await;
        assert_eq!(answer.header("x-upstream-meta"), Some("m3"));
        let (messages, trailer) = split_web_body(&answer.body);
        assert_eq!(messages, [success_message()]);
        assert_eq!(values(&trailer, "grpc-status"), ["0"]);
        assert_eq!(values(&trailer, "x-trailer-meta"), ["t1"]);
        assert_eq!(values(&trailer, "x-modal-warning"), [WARNING_2]);
        let info: SecretGetInfoResponse = answer.decode().unwrap();
        assert_eq!(info.metadata.unwrap().name, "scripted");
    }

    // Plain gRPC through the gateway: HTTP/2 trailers, unchanged.
    let (parts, data, trailers) = h2_call(
        gw.local_addr(),
        &format!("http://{}{PREFIX}ErrorInTrailers", gw.local_addr()),
        "application/grpc",
        frame(&[]),
    )
    .await;
    assert_eq!(parts.headers["content-type"], "application/grpc");
    assert!(data.is_empty());
    let trailers = trailers.expect("trailers");
    assert_eq!(trailers["grpc-status"], "9");
    assert_eq!(trailers["grpc-message"], MESSAGE);
    assert_eq!(trailers["grpc-status-details-bin"], details.as_str());
    assert_eq!(trailers.get_all("x-modal-warning").iter().count(), 2);
}

#[tokio::test]
async fn broken_or_foreign_upstream_answers_become_grpc_errors() {
    let upstream = scripted_upstream().await;
    let gw = scripted_gateway(&upstream.url()).await;
    let web = Web::http1(&gw.url(), token());

    let answer = web.call_raw("NotGrpc", frame(&[]), &[]).await;
    assert_eq!(answer.code(), Code::Unavailable);
    assert!(
        answer.message().contains("HTTP 502"),
        "{}",
        answer.message()
    );

    // The stream broke off (reset) after a message: the message, then UNAVAILABLE in the trailer
    // frame.
    let answer = web.call_raw("Broken", frame(&[]), &[]).await;
    let (messages, trailer) = split_web_body(&answer.body);
    assert_eq!(messages, [success_message()]);
    assert_eq!(values(&trailer, "grpc-status"), ["14"], "{trailer:?}");
    assert_eq!(answer.code(), Code::Unavailable);
    assert!(
        answer
            .message()
            .starts_with("the upstream's answer broke off"),
        "{}",
        answer.message()
    );
    // Reset before anything went out: UNAVAILABLE, trailers-only.
    let answer = web.call_raw("Reset", frame(&[]), &[]).await;
    assert_eq!(answer.header("grpc-status"), Some("14"));
    assert!(
        answer.message().starts_with(&format!(
            "the gateway got no answer from its upstream {}: ",
            upstream.url()
        )),
        "{}",
        answer.message()
    );
    assert_eq!(answer.code(), Code::Unavailable);

    let answer = web.call_raw("NoTrailers", frame(&[]), &[]).await;
    let (messages, trailer) = split_web_body(&answer.body);
    assert_eq!(messages, [success_message()]);
    assert_eq!(values(&trailer, "grpc-status"), ["13"], "{trailer:?}");

    // The caller's deadline holds even when the upstream dawdles.
    let started = Instant::now();
    let answer = web
        .call_raw("Slow", frame(&[]), &[("grpc-timeout", "300m")])
        .await;
    assert_eq!(
        answer.code(),
        Code::DeadlineExceeded,
        "{}",
        answer.message()
    );
    assert!(started.elapsed() < Duration::from_secs(2));

    // And the gateway still works afterwards.
    let answer = web.call_raw("SecretGetInfo", frame(&[]), &[]).await;
    assert_eq!(answer.code(), Code::Ok);
}

#[tokio::test]
async fn forwards_the_callers_headers_but_not_the_browsers() {
    let upstream = scripted_upstream().await;
    let gw = gateway(Config {
        allow_origins: vec!["https://app.example.com".into()],
        ..Config::gateway("127.0.0.1:0", upstream.url())
    })
    .await;
    let web = Web::http1(&gw.url(), token());
    let body = frame(&lookup_request("abc").encode_to_vec());
    let answer = web
        .call_raw(
            "SecretGetOrCreate",
            body.clone(),
            &[
                ("grpc-timeout", "10S"),
                ("x-custom", "kept"),
                ("authorization", "Bearer kept"),
                ("cookie", "session=browser"),
                ("origin", "https://app.example.com"),
                ("referer", "https://app.example.com/page"),
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-host", "evil.example"),
                ("forwarded", "for=10.0.0.1"),
                ("sec-fetch-mode", "cors"),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "dropped"),
                ("user-agent", "the-caller/1.0"),
            ],
        )
        .await;
    assert_eq!(answer.code(), Code::Ok);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );

    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.path, format!("{PREFIX}SecretGetOrCreate"));
    assert_eq!(seen.authority, upstream.addr.to_string(), "the :authority");
    assert_eq!(seen.body, body, "the message, unchanged");
    let h = &seen.headers;
    let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(get("x-modal-token-id").as_deref(), Some("ak-scripted"));
    assert_eq!(
        get("x-modal-token-secret").as_deref(),
        Some("as-scripted-secret")
    );
    for name in [
        "x-modal-client-type",
        "x-modal-client-version",
        "x-modal-host",
        "x-idempotency-key",
        "x-retry-attempt",
    ] {
        assert!(h.contains_key(name), "{name} forwarded: {h:?}");
    }
    assert_eq!(get("grpc-timeout").as_deref(), Some("10S"));
    assert_eq!(get("x-custom").as_deref(), Some("kept"));
    assert_eq!(get("authorization").as_deref(), Some("Bearer kept"));
    assert_eq!(get("te").as_deref(), Some("trailers"));
    assert_eq!(get("content-type").as_deref(), Some("application/grpc"));
    let agent = get("user-agent").unwrap();
    assert!(
        agent.starts_with("the-caller/1.0 modal-secrets-server/"),
        "{agent}"
    );
    // X-Forwarded-For is the gateway's own: the caller's address (its claim is not believed,
    // since it is no trusted proxy), for an upstream that trusts the gateway to count per caller.
    assert_eq!(get("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    for name in [
        "cookie",
        "origin",
        "referer",
        "x-forwarded-host",
        "forwarded",
        "sec-fetch-mode",
        "connection",
        "x-hop",
        "host",
        "x-grpc-web",
        "accept-encoding",
    ] {
        assert!(!h.contains_key(name), "{name} must not be forwarded: {h:?}");
    }
    // The HTTP/2 client's own, for the body it sends.
    assert_eq!(get("content-length"), Some(body.len().to_string()));
}

/// Sends one HTTP/2 request (prior knowledge) to `addr` with the given target URI, which sets the
/// `:authority` the server sees; returns the answer's head, data and trailers.
async fn h2_call(
    addr: SocketAddr,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (http::response::Parts, Bytes, Option<HeaderMap>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::post(uri)
        .header("content-type", content_type)
        .header("x-modal-token-id", "ak-scripted")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    (parts, collected.to_bytes(), trailers)
}

/// One HTTP/1.1 request written by hand (`head` is the request line and headers, without the
/// final blank line); returns the whole answer, the connection closed after it.
async fn raw_http1(addr: SocketAddr, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\ncontent-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// A port that counts the connections made to it (and answers none).
async fn decoy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (addr, count)
}

#[tokio::test]
async fn requests_cannot_steer_the_target() {
    let upstream = scripted_upstream().await;
    let gw = scripted_gateway(&upstream.url()).await;
    let addr = gw.local_addr();
    let (decoy, decoy_hits) = decoy().await;
    let body = frame(&[]);
    let forwarded_ok = |answer: &str, what: &str| {
        assert!(answer.starts_with("HTTP/1.1 200"), "{what}: {answer}");
        assert!(answer.contains("grpc-status:0"), "{what}: {answer}");
        assert!(answer.contains("scripted"), "{what}: {answer}");
    };

    // A Host header naming another server.
    let answer = raw_http1(
        addr,
        &format!("POST {PREFIX}SecretGetInfo HTTP/1.1\r\nhost: {decoy}"),
        &body,
    )
    .await;
    forwarded_ok(&answer, "Host");
    // An absolute-form target naming another server.
    let answer = raw_http1(
        addr,
        &format!("POST http://{decoy}{PREFIX}SecretGetInfo HTTP/1.1\r\nhost: {decoy}"),
        &body,
    )
    .await;
    forwarded_ok(&answer, "absolute-form");
    // A query naming another server is not forwarded at all.
    let answer = raw_http1(
        addr,
        &format!("POST {PREFIX}SecretGetInfo?upstream=http://{decoy} HTTP/1.1\r\nhost: {addr}"),
        &body,
    )
    .await;
    forwarded_ok(&answer, "query");
    // HTTP/2 with another :authority.
    let (parts, _, trailers) = h2_call(
        addr,
        &format!("http://{decoy}{PREFIX}SecretGetInfo"),
        "application/grpc-web+proto",
        body.clone(),
    )
    .await;
    assert_eq!(parts.status, 200);
    assert!(trailers.is_none(), "gRPC-web: the status is in the body");

    let seen = upstream.seen();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        assert_eq!(request.authority, upstream.addr.to_string());
        assert_eq!(request.path, format!("{PREFIX}SecretGetInfo"));
    }

    // Paths that are not a ModalClient method: answered UNIMPLEMENTED, never forwarded.
    for path in [
        format!("{PREFIX}../../pkg/index.js"),
        format!("{PREFIX}..%2F..%2Fother.Service%2FMethod"),
        format!("{PREFIX}%53ecretGetInfo"),
        format!("{PREFIX}SecretGetInfo/extra"),
        format!("{PREFIX}SecretGetInfo/../../x"),
        PREFIX.to_owned(),
        format!("/{PREFIX}SecretGetInfo"),
        "/modal.client.ModalClient.Other/SecretGetInfo".to_owned(),
        "/grpc.health.v1.Health/Check".to_owned(),
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
        format!("http://{decoy}/grpc.health.v1.Health/Check"),
        "/".to_owned(),
    ] {
        let answer = raw_http1(
            addr,
            &format!("POST {path} HTTP/1.1\r\nhost: {addr}"),
            &body,
        )
        .await;
        let head = answer.split("\r\n\r\n").next().unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.1 200") && head.contains("grpc-status: 12")
                || head.starts_with("HTTP/1.1 4"),
            "{path}: {answer}"
        );
    }
    assert_eq!(
        upstream.seen().len(),
        4,
        "nothing more reached the upstream"
    );
    assert_eq!(
        decoy_hits.load(Ordering::SeqCst),
        0,
        "nothing reached the decoy"
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable_until_it_is_back() {
    // A port with nothing on it (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream = format!("http://127.0.0.1:{port}");
    let gw = gateway_to(&upstream).await;
    let web = Web::http1(&gw.url(), token());
    for _ in 0..3 {
        let answer = web.call("ClientHello", &()).await;
        assert_eq!(answer.code(), Code::Unavailable);
        let message = answer.message();
        assert!(
            message.starts_with(&format!(
                "the gateway got no answer from its upstream {upstream}: "
            )),
            "{message}"
        );
        assert!(!message.contains("as-scripted"), "{message}");
    }
    // Static files and preflight still work while it is down (checked elsewhere); now it comes
    // back on that port, and the same gateway reaches it.
    let dir = tempfile::tempdir().unwrap();
    let server = modal_secrets_server::start(Config::new(
        format!("127.0.0.1:{port}"),
        dir.path().join("data"),
    ))
    .await
    .expect("the upstream starts on the freed port");
    let issued = server.store().unwrap().create_token("back").unwrap();
    let web = Web::http1(
        &gw.url(),
        Token {
            id: issued.token_id,
            secret: issued.token_secret.expose().clone(),
        },
    );
    let answer = web.call("WorkspaceNameLookup", &()).await;
    assert_eq!(answer.code(), Code::Ok, "{}", answer.message());

    // TLS to something that does not speak it: UNAVAILABLE too, saying so.
    let tls = gateway_to(&format!("https://127.0.0.1:{port}")).await;
    let answer = Web::http1(&tls.url(), token())
        .call("ClientHello", &())
        .await;
    assert_eq!(answer.code(), Code::Unavailable);
    assert!(
        answer.message().starts_with(&format!(
            "the gateway got no answer from its upstream https://127.0.0.1:{port}: "
        )),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn tls_upstreams_are_verified() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    // A TLS server on localhost with a self-signed certificate (tests/fixtures/README.md).
    let certs = CertificateDer::pem_slice_iter(include_bytes!("fixtures/self-signed.crt"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(include_bytes!("fixtures/self-signed.key")).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (hellos, mut hello) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor =
                tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let Ok(start) = acceptor.await else { continue };
            let client_hello = start.client_hello();
            let _ = hellos.send((
                client_hello.server_name().map(str::to_owned),
                client_hello
                    .alpn()
                    .map(|protocols| protocols.map(<[u8]>::to_vec).collect::<Vec<_>>()),
            ));
            // The gateway refuses the certificate, so this handshake fails.
            let _ = start.into_stream(Arc::clone(&config)).await;
        }
    });

    let gw = gateway_to(&format!("https://localhost:{port}")).await;
    let answer = Web::http1(&gw.url(), token())
        .call("ClientHello", &())
        .await;
    assert_eq!(answer.code(), Code::Unavailable);
    let message = answer.message();
    assert!(
        message.starts_with(&format!(
            "the gateway got no answer from its upstream https://localhost:{port}: "
        )) && message.contains("the upstream's certificate is not trusted: it is a CA certificate"),
        "{message}"
    );
    // It spoke TLS with the upstream's name (SNI) and asked for HTTP/2 (ALPN).
    let (server_name, alpn) = hello.recv().await.unwrap();
    assert_eq!(server_name.as_deref(), Some("localhost"));
    assert_eq!(alpn, Some(vec![b"h2".to_vec()]));
}

#[tokio::test]
async fn cors_and_static_files_in_gateway_mode() {
    let upstream = scripted_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "GATEWAY-DASHBOARD").unwrap();
    let gw = gateway(Config {
        allow_origins: vec!["https://app.example.com".into()],
        www_dir: dir.path().join("www"),
        pkg_dir: dir.path().join("no-pkg"),
        forward_all_methods: true,
        ..Config::gateway("127.0.0.1:0", upstream.url())
    })
    .await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let port = gw.local_addr().port();

    for origin in [
        "https://app.example.com".to_owned(),
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let answer = http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}{PREFIX}SecretList", gw.url()),
            )
            .header("origin", &origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                modal_secrets_server::http::cors::ALLOWED_HEADERS.join(","),
            )
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{origin}");
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        };
        assert_eq!(header("access-control-allow-origin"), Some(origin.clone()));
        let allowed = header("access-control-allow-headers").unwrap();
        for name in modal_secrets_server::http::cors::ALLOWED_HEADERS {
            assert!(allowed.contains(name), "{name} in {allowed}");
        }
    }
    let evil = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{PREFIX}SecretList", gw.url()),
        )
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    assert!(upstream.seen().is_empty(), "preflight is the gateway's own");

    // A call from an allowed origin: our CORS headers (not the upstream's `*`), every header
    // exposed, the named ones too.
    let answer = http
        .post(format!("{}{PREFIX}TrailersOnly", gw.url()))
        .header("origin", "https://app.example.com")
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(frame(&[]))
        .send()
        .await
        .unwrap();
    let all = |name: &str| {
        answer
            .headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        all("access-control-allow-origin"),
        ["https://app.example.com"]
    );
    let exposed = all("access-control-expose-headers").join(",");
    for name in modal_secrets_server::http::cors::EXPOSED_HEADERS
        .iter()
        .chain(&["*"])
    {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }

    // The dashboard is served by the gateway itself.
    let page = http.get(gw.url()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "GATEWAY-DASHBOARD");
    assert_eq!(upstream.seen().len(), 1);
}

#[tokio::test]
async fn bad_upstream_urls_are_refused_at_start() {
    for url in [
        "api.modal.com",
        "ftp://api.modal.com",
        "https://api.modal.com/v1",
        "https://user:pw@api.modal.com",
    ] {
        let err = modal_secrets_server::start(Config::gateway("127.0.0.1:0", url))
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(err.to_string().starts_with("--upstream: "), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_as_a_gateway() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // --data means the store: a gateway has none, so the two together are refused.
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--upstream", &server.url, "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--data") && stderr.contains("--upstream"),
        "{stderr}"
    );
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--upstream", "ftp://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--upstream: "), "{stderr}");

    let process = ServerProcess::spawn([
        "--upstream".as_ref(),
        server.url.as_ref(),
        "--www".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert!(
        process
            .log
            .contains(&format!("gateway to {} (no store)", server.url)),
        "{}",
        process.log
    );
    let web = Web::http1(&process.url, server.token.clone());
    assert_eq!(web.call("ClientHello", &()).await.code(), Code::Ok);
    let missing = web.call("SecretGetOrCreate", &lookup_request("nope")).await;
    assert_eq!(missing.code(), Code::NotFound);
    let created = web
        .call(
            "SecretGetOrCreate",
            &create_request(
                "logged",
                ObjectCreationType::CreateFailIfExists,
                &[("PASSWORD", "hunter2-value")],
            ),
        )
        .await;
    assert_eq!(created.code(), Code::Ok);
    drop(web);
    let (exit, log) = tokio::task::spawn_blocking(move || process.terminate(15))
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(log.contains("CALL ClientHello OK"), "{log}");
    assert!(log.contains("CALL SecretGetOrCreate NOT_FOUND"), "{log}");
    assert!(log.contains("ms upstream"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains(&server.token.secret), "{log}");
}

/// The gateway forwards, by default, only the methods of this package and Modal's secret commands
/// (`gateway::FORWARDED_METHODS`); any other ModalClient method is answered UNIMPLEMENTED by the
/// gateway itself, naming `--forward-all-methods`, and never reaches the upstream.
#[tokio::test]
async fn only_the_secrets_methods_are_forwarded_by_default() {
    let upstream = scripted_upstream().await;
    let gw = gateway_to(&upstream.url()).await;
    let web = Web::http1(&gw.url(), token());
    for method in [
        "AppCreate",
        "FunctionCreate",
        "VolumeGetOrCreate",
        "TrailersOnly",
    ] {
        let answer = web.call_raw(method, frame(&[]), &[]).await;
        assert_eq!(answer.code(), Code::Unimplemented, "{method}");
        assert!(
            answer.message().contains("--forward-all-methods"),
            "{method}: {}",
            answer.message()
        );
    }
    assert!(upstream.seen().is_empty(), "nothing reached the upstream");
    for method in [
        "SecretGetOrCreate",
        "SecretList",
        "SecretDelete",
        "SecretUpdate",
        "SecretGetInfo",
        "ClientHello",
        "WorkspaceNameLookup",
        "AuthTokenGet",
    ] {
        web.call_raw(method, frame(&[]), &[]).await;
    }
    assert_eq!(
        upstream.seen().len(),
        8,
        "the secrets methods are forwarded"
    );
    // --forward-all-methods opens the rest.
    let open = scripted_gateway(&upstream.url()).await;
    let answer = Web::http1(&open.url(), token())
        .call_raw("AppCreate", frame(&[]), &[])
        .await;
    assert_eq!(answer.code(), Code::Ok);
    assert_eq!(upstream.seen().len(), 9);
}
