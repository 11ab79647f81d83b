//! The same service over gRPC-web (HTTP/1.1 and HTTP/2), read with the core's codec exactly as the
//! package reads it; malformed requests; CORS.

mod common;

use common::{TestServer, Web, create_request, lookup_request};
use modal_secrets_core::Code;
use modal_secrets_core::proto::{
    AuthTokenGetRequest, AuthTokenGetResponse, ClientHelloResponse, ListPagination,
    ObjectCreationType, SecretDeleteRequest, SecretGetInfoRequest, SecretGetInfoResponse,
    SecretGetOrCreateResponse, SecretListRequest, SecretListResponse, SecretUpdateRequest,
    WorkspaceNameLookupResponse, secret_update_request::Update,
};

fn frame(message: &[u8]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    body.extend_from_slice(message);
    body
}

async fn every_method(web: &Web) {
    let created: SecretGetOrCreateResponse = web
        .call(
            "SecretGetOrCreate",
            &create_request("web", ObjectCreationType::CreateFailIfExists, &[("A", "1")]),
        )
        .await
        .decode()
        .unwrap();
    assert!(created.secret_id.starts_with("st-"));
    let id = created.secret_id;

    let found: SecretGetOrCreateResponse = web
        .call("SecretGetOrCreate", &lookup_request("web"))
        .await
        .decode()
        .unwrap();
    assert_eq!(found.secret_id, id);

    let answer = web
        .call(
            "SecretUpdate",
            &SecretUpdateRequest {
                secret_id: id.clone(),
                updates: vec![
                    Update {
                        key: "B".into(),
                        value: Some("2".into()),
                    },
                    Update {
                        key: "A".into(),
                        value: None,
                    },
                ],
            },
        )
        .await;
    answer.decode::<()>().unwrap();

    let info: SecretGetInfoResponse = web
        .call(
            "SecretGetInfo",
            &SecretGetInfoRequest {
                secret_id: id.clone(),
            },
        )
        .await
        .decode()
        .unwrap();
    assert_eq!(info.metadata.unwrap().keys, ["B"]);

    let list: SecretListResponse = web
        .call(
            "SecretList",
            &SecretListRequest {
                environment_name: String::new(),
                pagination: Some(ListPagination {
                    max_objects: 100,
                    created_before: 0.0,
                }),
            },
        )
        .await
        .decode()
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].label, "web");

    let hello: ClientHelloResponse = web.call("ClientHello", &()).await.decode().unwrap();
    assert!(hello.server_warnings.is_empty());
    let ws: WorkspaceNameLookupResponse =
        web.call("WorkspaceNameLookup", &()).await.decode().unwrap();
    assert_eq!(ws.workspace_name, "ws1");
    let token: AuthTokenGetResponse = web
        .call("AuthTokenGet", &AuthTokenGetRequest {})
        .await
        .decode()
        .unwrap();
    assert_eq!(token.token.split('.').count(), 3);

    web.call(
        "SecretDelete",
        &SecretDeleteRequest {
            secret_id: id.clone(),
        },
    )
    .await
    .decode::<()>()
    .unwrap();
    let gone = web.call("SecretGetOrCreate", &lookup_request("web")).await;
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn every_method_over_http1() {
    let server = TestServer::start().await;
    let web = server.web();
    every_method(&web).await;
    // Really HTTP/1.1, really gRPC-web.
    let answer = web.call("ClientHello", &()).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("application/grpc-web"),
        "{:?}",
        answer.headers
    );
}

#[tokio::test]
async fn every_method_over_http2() {
    let server = TestServer::start().await;
    let web = Web::http2(&server.url, server.token.clone());
    every_method(&web).await;
}

#[tokio::test]
async fn errors_arrive_as_the_package_reads_them() {
    let server = TestServer::start().await;
    let web = server.web();
    let missing = web.call("SecretGetOrCreate", &lookup_request("nope")).await;
    // Trailers-only: the status is in the HTTP headers.
    assert_eq!(missing.header("grpc-status"), Some("5"));
    match missing.decode::<SecretGetOrCreateResponse>() {
        Err(modal_secrets_core::Error::Status { code, message, .. }) => {
            assert_eq!(code, Code::NotFound);
            assert_eq!(message, "Secret 'nope' not found in environment 'main'");
        }
        other => panic!("{other:?}"),
    }
    let bad = web
        .call(
            "SecretGetOrCreate",
            &create_request("bad name", ObjectCreationType::CreateIfMissing, &[]),
        )
        .await;
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("deployment_name"),
        "{}",
        bad.message()
    );
    assert!(bad.message().contains("\"bad name\""), "{}", bad.message());
}

#[tokio::test]
async fn wire_example_from_wire_md() {
    let server = TestServer::start().await;
    let web = server.web();
    // `modal secret create foo A=1`, byte for byte.
    let create = [
        0x0a, 0x03, 0x66, 0x6f, 0x6f, 0x20, 0x02, 0x2a, 0x06, 0x0a, 0x01, 0x41, 0x12, 0x01, 0x31,
    ];
    let answer = web.call_raw("SecretGetOrCreate", frame(&create), &[]).await;
    let created: SecretGetOrCreateResponse = answer.decode().unwrap();
    assert_eq!(created.metadata.unwrap().keys, ["A"]);
    let lookup = [0x0a, 0x03, 0x66, 0x6f, 0x6f];
    let answer = web.call_raw("SecretGetOrCreate", frame(&lookup), &[]).await;
    let found: SecretGetOrCreateResponse = answer.decode().unwrap();
    assert_eq!(found.secret_id, created.secret_id);
}

#[tokio::test]
async fn malformed_requests_get_clear_errors() {
    let server = TestServer::start().await;
    let web = server.web();

    // Not protobuf at all.
    let answer = web
        .call_raw("SecretGetOrCreate", frame(&[0xff, 0xff, 0xff, 0xff]), &[])
        .await;
    assert_eq!(answer.code(), Code::InvalidArgument, "{}", answer.message());
    assert!(
        answer.message().contains("malformed protobuf"),
        "{}",
        answer.message()
    );

    // deployment_name that is not UTF-8.
    let answer = web
        .call_raw("SecretGetOrCreate", frame(&[0x0a, 0x02, 0xff, 0xfe]), &[])
        .await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(
        answer.message().contains("deployment_name"),
        "{}",
        answer.message()
    );

    // A value that is not UTF-8 (env_dict entry A -> ff).
    let answer = web
        .call_raw(
            "SecretGetOrCreate",
            frame(&[
                0x0a, 0x01, 0x78, 0x20, 0x01, 0x2a, 0x06, 0x0a, 0x01, 0x41, 0x12, 0x01, 0xff,
            ]),
            &[],
        )
        .await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(
        answer.message().contains("env_dict"),
        "{}",
        answer.message()
    );

    // A frame announcing more than the limit is refused before it is read.
    let mut huge = vec![0];
    huge.extend_from_slice(&(5u32 << 20).to_be_bytes());
    huge.extend_from_slice(&[0; 16]);
    let answer = web.call_raw("SecretGetOrCreate", huge, &[]).await;
    assert_eq!(answer.code(), Code::OutOfRange, "{}", answer.message());

    // A truncated frame, a compressed frame, an empty body, two frames, a short header.
    let mut truncated = vec![0, 0, 0, 0, 100];
    truncated.extend_from_slice(&[0x0a, 0x01]);
    let mut two = frame(&[0x0a, 0x01, 0x61]);
    two.extend(frame(&[0x0a, 0x01, 0x62]));
    for (body, expected) in [
        (truncated, "truncated"),
        (vec![1, 0, 0, 0, 1, 0], "compressed"),
        (vec![0x40, 0, 0, 0, 0], "flags"),
        (Vec::new(), "empty request body"),
        (vec![0, 0], "frame header"),
        (two, "exactly one message"),
    ] {
        let answer = web.call_raw("SecretGetOrCreate", body, &[]).await;
        assert_eq!(answer.code(), Code::InvalidArgument, "{expected}");
        assert!(answer.message().contains(expected), "{}", answer.message());
    }

    // A body longer than the limit, whatever its frames say.
    let mut long = vec![0];
    long.extend_from_slice(&(4u32 << 20).to_be_bytes());
    long.resize(5 + (4 << 20) + 100, 0);
    let answer = web.call_raw("SecretGetOrCreate", long, &[]).await;
    assert_eq!(answer.code(), Code::OutOfRange, "{}", answer.message());

    // The server still answers.
    let ok = web.call("ClientHello", &()).await;
    assert_eq!(ok.code(), Code::Ok);
}

#[tokio::test]
async fn auth_and_unknown_methods() {
    let server = TestServer::start().await;
    let web = server.web();
    let anonymous = Web {
        http: web.http.clone(),
        url: web.url.clone(),
        token: None,
    };
    for method in ["SecretList", "ClientHello", "AppCreate", "FunctionCall"] {
        let answer = anonymous.call(method, &()).await;
        assert_eq!(answer.code(), Code::Unauthenticated, "{method}");
    }
    let answer = web
        .call_raw(
            "ClientHello",
            frame(&[]),
            &[("x-modal-token-secret", "as-wrong")],
        )
        .await;
    assert_eq!(answer.code(), Code::Unauthenticated);
    for method in ["AppCreate", "SecretNope", "FunctionGetOutputs"] {
        let answer = web.call(method, &()).await;
        assert_eq!(answer.code(), Code::Unimplemented, "{method}");
    }
}

async fn preflight(http: &reqwest::Client, url: &str, origin: &str) -> reqwest::Response {
    http.request(
        reqwest::Method::OPTIONS,
        format!("{url}/modal.client.ModalClient/SecretList"),
    )
    .header("origin", origin)
    .header("access-control-request-method", "POST")
    .header(
        "access-control-request-headers",
        "content-type,x-grpc-web,x-user-agent,x-modal-token-id,x-modal-token-secret,\
         x-modal-client-type,x-modal-client-version,x-modal-host,x-idempotency-key,\
         x-retry-attempt,x-retry-delay,x-modal-auth-token,grpc-timeout",
    )
    .send()
    .await
    .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn cors() {
    let server = TestServer::start_with_origins(vec!["https://App.example.com/".to_owned()]).await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let port = server.running().local_addr().port();

    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        "https://app.example.com".to_owned(),
    ] {
        let answer = preflight(&http, &server.url, &origin).await;
        assert!(
            answer.status().is_success(),
            "{origin}: {}",
            answer.status()
        );
        assert_eq!(
            header(&answer, "access-control-allow-origin"),
            Some(origin.as_str())
        );
        let allowed = header(&answer, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for name in modal_secrets_server::http::cors::ALLOWED_HEADERS {
            assert!(allowed.contains(name), "{name} in {allowed}");
        }
        assert!(
            header(&answer, "access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
    }

    for origin in ["https://evil.example.com", "http://127.0.0.1:1"] {
        let answer = preflight(&http, &server.url, origin).await;
        assert_eq!(
            header(&answer, "access-control-allow-origin"),
            None,
            "{origin}"
        );
    }

    // The call itself: the browser may read the status headers.
    let origin = format!("http://127.0.0.1:{port}");
    let body = modal_secrets_core::grpc_web::encode_request(&lookup_request("nope")).unwrap();
    let answer = http
        .post(format!(
            "{}/modal.client.ModalClient/SecretGetOrCreate",
            server.url
        ))
        .header("origin", &origin)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("x-modal-token-id", &server.token.id)
        .header("x-modal-token-secret", &server.token.secret)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some(origin.as_str())
    );
    let exposed = header(&answer, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for name in modal_secrets_server::http::cors::EXPOSED_HEADERS {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert_eq!(header(&answer, "grpc-status"), Some("5"));
}

#[tokio::test]
async fn allow_any_origin() {
    let server = TestServer::start_with_origins(vec!["*".to_owned()]).await;
    let http = reqwest::Client::builder().http1_only().build().unwrap();
    let answer = preflight(&http, &server.url, "https://anywhere.example").await;
    assert_eq!(header(&answer, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn bad_allow_origin_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = modal_secrets_server::start(modal_secrets_server::Config {
        allow_origins: vec!["example.com".into()],
        ..modal_secrets_server::Config::new("127.0.0.1:0", dir.path())
    })
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("--allow-origin"), "{err}");
}
