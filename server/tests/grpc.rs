//! Every method and rule of WIRE.md over plain gRPC (h2c), with the tonic-generated client.

mod common;

use common::{Grpc, TestServer, Token, create_request, dict, lookup_request};
use modal_secrets_core::proto::{
    AuthTokenGetRequest, ListPagination, ObjectCreationType, SecretDeleteRequest,
    SecretGetInfoRequest, SecretGetOrCreateRequest, SecretListRequest, SecretListResponse,
    SecretUpdateRequest, secret_update_request::Update,
};
use modal_secrets_server::http::throttle::AuthLimit;
use tonic::Code;

async fn list(grpc: &mut Grpc, env: &str, max: i32, before: f64) -> SecretListResponse {
    let req = grpc.request(SecretListRequest {
        environment_name: env.to_owned(),
        pagination: Some(ListPagination {
            max_objects: max,
            created_before: before,
        }),
    });
    grpc.client
        .secret_list(req)
        .await
        .expect("list")
        .into_inner()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn create_lookup_update_info_list_delete() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;

    let created = grpc
        .get_or_create(create_request(
            "db",
            ObjectCreationType::CreateFailIfExists,
            &[("USER", "u"), ("PASSWORD", "p")],
        ))
        .await
        .unwrap();
    assert!(
        created.secret_id.starts_with("st-"),
        "{}",
        created.secret_id
    );
    assert_eq!(created.secret_id.len(), 25);
    let meta = created.metadata.unwrap();
    assert_eq!(meta.name, "db");
    assert_eq!(meta.keys, ["PASSWORD", "USER"]);
    assert_eq!(meta.environment_name, "main");
    let info = meta.creation_info.unwrap();
    assert!(
        (info.created_at - now()).abs() < 60.0,
        "{}",
        info.created_at
    );
    assert_eq!(info.created_by, "ws1");

    let found = grpc.get_or_create(lookup_request("db")).await.unwrap();
    assert_eq!(found.secret_id, created.secret_id);
    assert_eq!(found.metadata.unwrap().keys, ["PASSWORD", "USER"]);

    let update = grpc.request(SecretUpdateRequest {
        secret_id: created.secret_id.clone(),
        updates: vec![
            Update {
                key: "USER".into(),
                value: None,
            },
            Update {
                key: "HOST".into(),
                value: Some("h".into()),
            },
            Update {
                key: "PASSWORD".into(),
                value: Some("p2".into()),
            },
        ],
    });
    grpc.client.secret_update(update).await.unwrap();

    let info = grpc
        .client
        .secret_get_info(grpc.request(SecretGetInfoRequest {
            secret_id: created.secret_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .metadata
        .unwrap();
    assert_eq!(info.keys, ["HOST", "PASSWORD"]);
    assert_eq!(info.name, "db");

    let listed = list(&mut grpc, "", 100, now() + 1.0).await;
    assert_eq!(listed.environment_name, "main");
    assert_eq!(listed.items.len(), 1);
    let item = &listed.items[0];
    assert_eq!(item.label, "db");
    assert_eq!(item.secret_id, created.secret_id);
    assert_eq!(item.environment_name, "main");
    let item_meta = item.metadata.as_ref().unwrap();
    assert_eq!(item_meta.keys, ["HOST", "PASSWORD"]);
    assert_eq!(
        item_meta.creation_info.as_ref().unwrap().created_at,
        item.created_at
    );

    grpc.client
        .secret_delete(grpc.request(SecretDeleteRequest {
            secret_id: created.secret_id.clone(),
        }))
        .await
        .unwrap();
    let err = grpc.get_or_create(lookup_request("db")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("'db'"), "{}", err.message());
    let err = grpc
        .client
        .secret_delete(grpc.request(SecretDeleteRequest {
            secret_id: created.secret_id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(list(&mut grpc, "", 100, 0.0).await.items.is_empty());
}

#[tokio::test]
async fn creation_types() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    use ObjectCreationType as T;

    // 1: creates when missing, then returns the existing secret untouched.
    let first = grpc
        .get_or_create(create_request("s", T::CreateIfMissing, &[("A", "1")]))
        .await
        .unwrap();
    let again = grpc
        .get_or_create(create_request("s", T::CreateIfMissing, &[("B", "2")]))
        .await
        .unwrap();
    assert_eq!(again.secret_id, first.secret_id);
    assert_eq!(again.metadata.unwrap().keys, ["A"]);

    // 2: ALREADY_EXISTS when the name exists.
    let err = grpc
        .get_or_create(create_request("s", T::CreateFailIfExists, &[("B", "2")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains("'s'"), "{}", err.message());

    // 3: replaces the contents, keeping the id and creation time.
    let over = grpc
        .get_or_create(create_request(
            "s",
            T::CreateOverwriteIfExists,
            &[("B", "2"), ("C", "3")],
        ))
        .await
        .unwrap();
    assert_eq!(over.secret_id, first.secret_id);
    let meta = over.metadata.unwrap();
    assert_eq!(meta.keys, ["B", "C"]);
    assert_eq!(
        meta.creation_info.unwrap().created_at,
        first.metadata.unwrap().creation_info.unwrap().created_at
    );
    // 3 on a missing name creates.
    let fresh = grpc
        .get_or_create(create_request(
            "t",
            T::CreateOverwriteIfExists,
            &[("X", "1")],
        ))
        .await
        .unwrap();
    assert_ne!(fresh.secret_id, first.secret_id);

    // 5: an ephemeral secret, nameless and never listed, but usable by id.
    let eph = grpc
        .get_or_create(create_request("", T::Ephemeral, &[("E", "1")]))
        .await
        .unwrap();
    assert!(eph.secret_id.starts_with("st-"));
    assert_eq!(eph.metadata.as_ref().unwrap().name, "");
    let names: Vec<String> = list(&mut grpc, "", 100, 0.0)
        .await
        .items
        .into_iter()
        .map(|i| i.label)
        .collect();
    assert_eq!(names, ["t", "s"]);
    let info = grpc
        .client
        .secret_get_info(grpc.request(SecretGetInfoRequest {
            secret_id: eph.secret_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.metadata.unwrap().keys, ["E"]);
    let err = grpc
        .get_or_create(create_request("named", T::Ephemeral, &[("E", "1")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("deployment_name"),
        "{}",
        err.message()
    );

    // 4: no apps here.
    let err = grpc
        .get_or_create(create_request("", T::AnonymousOwnedByApp, &[("E", "1")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);

    // An unknown type.
    let mut req = create_request("u", T::CreateIfMissing, &[]);
    req.object_creation_type = 99;
    let err = grpc.get_or_create(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("object_creation_type"));

    // An empty secret is allowed.
    grpc.get_or_create(create_request("empty", T::CreateFailIfExists, &[]))
        .await
        .unwrap();
}

#[tokio::test]
async fn required_keys() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    grpc.create("r", &[("A", "1"), ("B", "2")]).await;
    let mut req = lookup_request("r");
    req.required_keys = vec!["A".into(), "B".into()];
    grpc.get_or_create(req.clone()).await.unwrap();
    req.required_keys = vec!["A".into(), "C".into()];
    let err = grpc.get_or_create(req.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("Secret is missing key"),
        "{}",
        err.message()
    );
    assert!(err.message().contains('C'), "{}", err.message());
    req.required_keys = vec!["C".into(), "D".into()];
    let err = grpc.get_or_create(req).await.unwrap_err();
    assert!(
        err.message().contains("Secret is missing key"),
        "{}",
        err.message()
    );
    assert!(err.message().contains("C, D"), "{}", err.message());
}

#[tokio::test]
async fn list_pages_newest_first_each_once() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    let mut ids = Vec::new();
    for i in 0..250 {
        ids.push(grpc.create(&format!("s{i:03}"), &[("K", "v")]).await);
    }
    // As Modal's clients page: 100 at a time, the last item's metadata created_at as the cursor.
    let mut seen = Vec::new();
    let mut before = now() + 1.0;
    loop {
        let page = list(&mut grpc, "", 100, before).await;
        for item in &page.items {
            assert!(item.metadata.is_some());
            seen.push(item.secret_id.clone());
        }
        if page.items.len() < 100 {
            break;
        }
        before = page
            .items
            .last()
            .unwrap()
            .metadata
            .as_ref()
            .unwrap()
            .creation_info
            .as_ref()
            .unwrap()
            .created_at;
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each exactly once");

    // max_objects, and 0 meaning the default page of 100.
    assert_eq!(list(&mut grpc, "", 7, 0.0).await.items.len(), 7);
    assert_eq!(list(&mut grpc, "", 0, 0.0).await.items.len(), 100);
    assert_eq!(list(&mut grpc, "", 1000, 0.0).await.items.len(), 250);

    // created_before is strict.
    let all = list(&mut grpc, "", 1000, 0.0).await.items;
    let pivot = all[10].created_at;
    let below = list(&mut grpc, "", 1000, pivot).await.items;
    assert_eq!(below.len(), 239);
    assert_eq!(below[0].secret_id, all[11].secret_id);
    let created: Vec<f64> = all.iter().map(|i| i.created_at).collect();
    assert!(
        created.windows(2).all(|w| w[0] > w[1]),
        "distinct, descending"
    );
}

#[tokio::test]
async fn concurrent_creates_get_distinct_times() {
    let server = TestServer::start().await;
    let grpc = server.grpc().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let mut g = grpc.with_token(Some(server.token.clone()));
        tasks.push(tokio::spawn(async move {
            g.create(&format!("c{i}"), &[("K", "v")]).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut grpc = server.grpc().await;
    let items = list(&mut grpc, "", 1000, 0.0).await.items;
    assert_eq!(items.len(), 40);
    let mut times: Vec<f64> = items.iter().map(|i| i.created_at).collect();
    times.dedup();
    assert_eq!(times.len(), 40);
}

#[tokio::test]
async fn validation_names_the_field() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    use ObjectCreationType as T;
    let cases: Vec<(SecretGetOrCreateRequest, &str)> = vec![
        (
            create_request("bad name", T::CreateIfMissing, &[("A", "1")]),
            "deployment_name",
        ),
        (
            create_request(&"x".repeat(65), T::CreateIfMissing, &[]),
            "deployment_name",
        ),
        (
            create_request("", T::CreateIfMissing, &[]),
            "deployment_name",
        ),
        (lookup_request("ap-aaaaaaaaaaaaaaaaaaaaaa"), "app id"),
        (
            create_request("ok", T::CreateIfMissing, &[("1A", "1")]),
            "env_dict",
        ),
        (
            create_request("ok", T::CreateIfMissing, &[("A-B", "1")]),
            "env_dict",
        ),
        (
            create_request("ok", T::CreateIfMissing, &[("", "1")]),
            "env_dict",
        ),
        (
            SecretGetOrCreateRequest {
                environment_name: "bad env".into(),
                ..lookup_request("ok")
            },
            "environment_name",
        ),
        (
            SecretGetOrCreateRequest {
                required_keys: vec!["no way".into()],
                ..lookup_request("ok")
            },
            "required_keys",
        ),
    ];
    for (req, field) in cases {
        let err = grpc.get_or_create(req.clone()).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{req:?}");
        assert!(err.message().contains(field), "{field}: {}", err.message());
    }

    // Too many keys, too big a value, too long a key.
    let many: Vec<(String, String)> = (0..1001).map(|i| (format!("K{i}"), "v".into())).collect();
    let mut req = create_request("big", T::CreateIfMissing, &[]);
    req.env_dict = many.into_iter().collect();
    let err = grpc.get_or_create(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("1001 keys, at most 1000"),
        "{}",
        err.message()
    );
    let ok: Vec<(String, String)> = (0..1000).map(|i| (format!("K{i}"), "v".into())).collect();
    let mut req = create_request("big", T::CreateIfMissing, &[]);
    req.env_dict = ok.into_iter().collect();
    let big_id = grpc.get_or_create(req).await.unwrap().secret_id;
    let value = "v".repeat(64 * 1024 + 1);
    let err = grpc
        .get_or_create(create_request("v", T::CreateIfMissing, &[("A", &value)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("at most 65536"), "{}", err.message());
    assert!(!err.message().contains("vvvv"), "no value in messages");
    let value = "v".repeat(64 * 1024);
    grpc.get_or_create(create_request("v", T::CreateIfMissing, &[("A", &value)]))
        .await
        .unwrap();
    let long_key = "K".repeat(257);
    let err = grpc
        .get_or_create(create_request("k", T::CreateIfMissing, &[(&long_key, "1")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // An update that would pass the key limit is refused and changes nothing.
    let update = grpc.request(SecretUpdateRequest {
        secret_id: big_id.clone(),
        updates: vec![Update {
            key: "ONE_MORE".into(),
            value: Some("x".into()),
        }],
    });
    let err = grpc.client.secret_update(update).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let info = grpc
        .client
        .secret_get_info(grpc.request(SecretGetInfoRequest {
            secret_id: big_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.metadata.unwrap().keys.len(), 1000);
    let update = grpc.request(SecretUpdateRequest {
        secret_id: big_id,
        updates: vec![Update {
            key: "bad key".into(),
            value: Some("x".into()),
        }],
    });
    let err = grpc.client.secret_update(update).await.unwrap_err();
    assert!(err.message().contains("updates.key"), "{}", err.message());

    // Ids that are not ids; a negative page size.
    for id in ["", "nope", "st-a b", "ap-123"] {
        let err = grpc
            .client
            .secret_get_info(grpc.request(SecretGetInfoRequest {
                secret_id: id.into(),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{id}");
        assert!(err.message().contains("secret_id"), "{}", err.message());
    }
    let err = grpc
        .client
        .secret_get_info(grpc.request(SecretGetInfoRequest {
            secret_id: "st-doesnotexist0000000000".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let req = grpc.request(SecretListRequest {
        environment_name: String::new(),
        pagination: Some(ListPagination {
            max_objects: -1,
            created_before: 0.0,
        }),
    });
    let err = grpc.client.secret_list(req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("max_objects"));
}

#[tokio::test]
async fn oversized_request_is_refused() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    // 80 values of 60 KiB: each within the value limit, the message over 4 MiB.
    let value = "v".repeat(60 * 1024);
    let mut req = create_request("huge", ObjectCreationType::CreateIfMissing, &[]);
    req.env_dict = (0..80).map(|i| (format!("K{i}"), value.clone())).collect();
    let err = grpc.get_or_create(req).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // The server is still fine.
    grpc.create("after", &[("A", "1")]).await;
}

#[tokio::test]
async fn environments() {
    let server = TestServer::start().await;
    server
        .running()
        .store()
        .expect("a local server")
        .create_environment("ws1", "dev")
        .unwrap();
    let mut grpc = server.grpc().await;
    let mut in_dev = create_request("s", ObjectCreationType::CreateFailIfExists, &[("A", "1")]);
    in_dev.environment_name = "dev".into();
    let dev = grpc.get_or_create(in_dev.clone()).await.unwrap();
    assert_eq!(dev.metadata.unwrap().environment_name, "dev");
    // The same name in main is another secret.
    let main_id = grpc.create("s", &[("B", "1")]).await;
    assert_ne!(main_id, dev.secret_id);
    // "" and "main" are the same environment.
    let mut explicit = lookup_request("s");
    explicit.environment_name = "main".into();
    assert_eq!(
        grpc.get_or_create(explicit).await.unwrap().secret_id,
        main_id
    );

    let listed = list(&mut grpc, "dev", 100, 0.0).await;
    assert_eq!(listed.environment_name, "dev");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].secret_id, dev.secret_id);
    assert_eq!(listed.items[0].environment_name, "dev");
    assert_eq!(list(&mut grpc, "main", 100, 0.0).await.items.len(), 1);

    // Unknown environments are NOT_FOUND everywhere.
    let mut unknown = lookup_request("s");
    unknown.environment_name = "prod".into();
    let err = grpc.get_or_create(unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("prod"), "{}", err.message());
    in_dev.environment_name = "prod".into();
    assert_eq!(
        grpc.get_or_create(in_dev).await.unwrap_err().code(),
        Code::NotFound
    );
    let req = grpc.request(SecretListRequest {
        environment_name: "prod".into(),
        pagination: None,
    });
    assert_eq!(
        grpc.client.secret_list(req).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn workspaces_are_isolated() {
    let server = TestServer::start().await;
    let mut one = server.grpc().await;
    let id = one.create("shared-name", &[("A", "1")]).await;
    let mut two = one.with_token(Some(server.token_for("ws2")));

    assert_eq!(
        two.get_or_create(lookup_request("shared-name"))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert!(list(&mut two, "", 100, 0.0).await.items.is_empty());
    for code in [
        two.client
            .secret_get_info(two.request(SecretGetInfoRequest {
                secret_id: id.clone(),
            }))
            .await
            .unwrap_err()
            .code(),
        two.client
            .secret_update(two.request(SecretUpdateRequest {
                secret_id: id.clone(),
                updates: vec![],
            }))
            .await
            .unwrap_err()
            .code(),
        two.client
            .secret_delete(two.request(SecretDeleteRequest {
                secret_id: id.clone(),
            }))
            .await
            .unwrap_err()
            .code(),
    ] {
        assert_eq!(code, Code::NotFound);
    }
    // The same name in the other workspace is its own secret.
    let other = two.create("shared-name", &[("B", "2")]).await;
    assert_ne!(other, id);
    let mine = one
        .get_or_create(lookup_request("shared-name"))
        .await
        .unwrap();
    assert_eq!(mine.secret_id, id);
    assert_eq!(mine.metadata.unwrap().keys, ["A"]);

    // A second token of the same workspace sees the same secrets.
    let mut again = one.with_token(Some(server.token_for("ws1")));
    assert_eq!(
        again
            .get_or_create(lookup_request("shared-name"))
            .await
            .unwrap()
            .secret_id,
        id
    );
}

#[tokio::test]
async fn authentication() {
    // 40 failures on purpose: beyond the default limit per address (tests/throttle.rs).
    let server = TestServer::start_with_auth_limit(AuthLimit {
        max_failures: 1000,
        ..AuthLimit::default()
    })
    .await;
    let grpc = server.grpc().await;
    let good = server.token.clone();
    let bad_tokens = [
        None,
        Some(Token {
            id: good.id.clone(),
            secret: "as-wrong".into(),
        }),
        Some(Token {
            id: "ak-unknown00000000000000000".into(),
            secret: good.secret.clone(),
        }),
        Some(Token {
            id: "not-a-token".into(),
            secret: good.secret.clone(),
        }),
        Some(Token {
            id: good.id.clone(),
            secret: String::new(),
        }),
    ];
    for token in bad_tokens {
        let mut g = grpc.with_token(token.clone());
        let results = [
            g.get_or_create(lookup_request("x")).await.err(),
            g.client
                .secret_list(g.request(SecretListRequest::default()))
                .await
                .err(),
            g.client
                .secret_delete(g.request(SecretDeleteRequest {
                    secret_id: "st-x".into(),
                }))
                .await
                .err(),
            g.client
                .secret_update(g.request(SecretUpdateRequest::default()))
                .await
                .err(),
            g.client
                .secret_get_info(g.request(SecretGetInfoRequest::default()))
                .await
                .err(),
            g.client.client_hello(g.request(())).await.err(),
            g.client.workspace_name_lookup(g.request(())).await.err(),
            g.client
                .auth_token_get(g.request(AuthTokenGetRequest {}))
                .await
                .err(),
        ];
        for (i, result) in results.into_iter().enumerate() {
            let err = result.unwrap_or_else(|| panic!("method {i} answered {token:?}"));
            assert_eq!(err.code(), Code::Unauthenticated, "method {i}: {err:?}");
            assert!(!err.message().contains(&good.secret));
        }
    }
}

#[tokio::test]
async fn hello_workspace_and_auth_token() {
    let server = TestServer::start().await;
    let mut grpc = server.grpc().await;
    let hello = grpc
        .client
        .client_hello(grpc.request(()))
        .await
        .unwrap()
        .into_inner();
    assert!(hello.server_warnings.is_empty());
    let ws = grpc
        .client
        .workspace_name_lookup(grpc.request(()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ws.workspace_name, "ws1");

    let jwt = grpc
        .client
        .auth_token_get(grpc.request(AuthTokenGetRequest {}))
        .await
        .unwrap()
        .into_inner()
        .token;
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts[1])
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let exp = claims["exp"].as_f64().unwrap();
    assert!(exp > now() + 60.0 && exp < now() + 2.0 * 3600.0, "{claims}");

    // The token alone authenticates, as the same workspace.
    grpc.create("via-jwt", &[("A", "1")]).await;
    let mut bearer = grpc.with_token(None);
    bearer.auth_token = Some(jwt.clone());
    let found = bearer
        .get_or_create(lookup_request("via-jwt"))
        .await
        .unwrap();
    assert_eq!(found.metadata.unwrap().name, "via-jwt");
    let ws = bearer
        .client
        .workspace_name_lookup(bearer.request(()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ws.workspace_name, "ws1");

    // A tampered token does not.
    let mut tampered = jwt.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    bearer.auth_token = Some(String::from_utf8(tampered).unwrap());
    let err = bearer
        .get_or_create(lookup_request("via-jwt"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn writes_survive_a_restart() {
    let mut server = TestServer::start().await;
    let id = {
        let mut grpc = server.grpc().await;
        grpc.create("kept", &[("A", "1")]).await
    };
    server.restart().await;
    let mut grpc = server.grpc().await;
    let found = grpc.get_or_create(lookup_request("kept")).await.unwrap();
    assert_eq!(found.secret_id, id);
    assert_eq!(found.metadata.unwrap().keys, ["A"]);
    server.stop().await;
}

#[tokio::test]
async fn new_token_from_outside_is_seen_while_serving() {
    let server = TestServer::start().await;
    // As `token new` does from another process: its own connection to the same store.
    let store =
        modal_secrets_server::local::store::Store::open(&server.dir.path().join("data")).unwrap();
    let token = store.create_token("ws3").unwrap();
    let grpc = server.grpc().await;
    let mut three = grpc.with_token(Some(Token {
        id: token.token_id,
        secret: token.token_secret.expose().clone(),
    }));
    let ws = three
        .client
        .workspace_name_lookup(three.request(()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ws.workspace_name, "ws3");
    let _ = dict(&[]);
}
