//! Every size limit of `src/limits.rs` (server/README.md, "Limits"), at the limit (accepted) and
//! one past it (refused with the status and a message naming the field), over gRPC-web against a
//! real server; and the server still answers afterwards.

mod common;

use std::collections::BTreeMap;

use common::{TestServer, Token, Web, create_request, lookup_request};
use modal_secrets_core::Code;
use modal_secrets_core::proto::{
    ListPagination, ObjectCreationType, SecretGetInfoRequest, SecretGetOrCreateRequest,
    SecretGetOrCreateResponse, SecretListRequest, SecretUpdateRequest,
    secret_update_request::Update,
};
use modal_secrets_server::limits::{
    MAX_KEY_BYTES, MAX_KEYS_PER_SECRET, MAX_LISTED_KEYS, MAX_NAME_CHARS, MAX_REQUEST_BYTES,
    MAX_SECRET_BYTES, MAX_TOKEN_SECRET_BYTES, MAX_VALUE_BYTES,
};

fn create_fail(name: &str, env_dict: BTreeMap<String, String>) -> SecretGetOrCreateRequest {
    SecretGetOrCreateRequest {
        deployment_name: name.to_owned(),
        object_creation_type: ObjectCreationType::CreateFailIfExists as i32,
        env_dict,
        ..Default::default()
    }
}

fn keys(n: usize, value: &str) -> BTreeMap<String, String> {
    (0..n)
        .map(|i| (format!("K{i:05}"), value.to_owned()))
        .collect()
}

/// The answer's code and message, for a create/lookup.
async fn get_or_create(web: &Web, request: &SecretGetOrCreateRequest) -> (Code, String) {
    let answer = web.call("SecretGetOrCreate", request).await;
    (answer.code(), answer.message())
}

fn assert_refused((code, message): (Code, String), want: Code, mentions: &str) {
    assert_eq!(code, want, "{message}");
    assert!(
        message.contains(mentions),
        "{message:?} should mention {mentions:?}"
    );
}

#[tokio::test]
async fn names_keys_values_and_counts() {
    let server = TestServer::start().await;
    let web = server.web();
    let ok = |r: (Code, String)| assert_eq!(r.0, Code::Ok, "{}", r.1);

    // Secret names: 64 characters.
    let name = "n".repeat(MAX_NAME_CHARS);
    ok(get_or_create(&web, &create_fail(&name, keys(1, "v"))).await);
    let name = "n".repeat(MAX_NAME_CHARS + 1);
    assert_refused(
        get_or_create(&web, &create_fail(&name, keys(1, "v"))).await,
        Code::InvalidArgument,
        "deployment_name",
    );

    // Environment names: 64 characters (an unknown one of the right shape is NOT_FOUND).
    let mut request = lookup_request("x");
    request.environment_name = "e".repeat(MAX_NAME_CHARS);
    assert_eq!(get_or_create(&web, &request).await.0, Code::NotFound);
    request.environment_name = "e".repeat(MAX_NAME_CHARS + 1);
    assert_refused(
        get_or_create(&web, &request).await,
        Code::InvalidArgument,
        "environment_name",
    );
    let list = SecretListRequest {
        environment_name: "e".repeat(MAX_NAME_CHARS + 1),
        pagination: Some(ListPagination::default()),
    };
    let answer = web.call("SecretList", &list).await;
    assert_eq!(answer.code(), Code::InvalidArgument, "{}", answer.message());

    // Keys: 256 bytes.
    let long_key = format!("K{}", "k".repeat(MAX_KEY_BYTES - 1));
    ok(get_or_create(
        &web,
        &create_fail("key-at", [(long_key.clone(), "v".into())].into()),
    )
    .await);
    let too_long = format!("{long_key}k");
    assert_refused(
        get_or_create(
            &web,
            &create_fail("key-over", [(too_long.clone(), "v".into())].into()),
        )
        .await,
        Code::InvalidArgument,
        "env_dict: a key of 257 bytes",
    );

    // Values: 64 KiB.
    let at = "v".repeat(MAX_VALUE_BYTES);
    ok(get_or_create(
        &web,
        &create_fail("value-at", [("A".into(), at.clone())].into()),
    )
    .await);
    let over = "v".repeat(MAX_VALUE_BYTES + 1);
    let (code, message) = get_or_create(
        &web,
        &create_fail("value-over", [("A".into(), over.clone())].into()),
    )
    .await;
    assert_refused(
        (code, message.clone()),
        Code::InvalidArgument,
        "at most 65536",
    );
    assert!(!message.contains("vvvv"), "the value is not quoted");

    // Keys per secret: 1000.
    ok(get_or_create(
        &web,
        &create_fail("count-at", keys(MAX_KEYS_PER_SECRET, "v")),
    )
    .await);
    assert_refused(
        get_or_create(
            &web,
            &create_fail("count-over", keys(MAX_KEYS_PER_SECRET + 1, "v")),
        )
        .await,
        Code::InvalidArgument,
        "env_dict: 1001 keys",
    );

    // required_keys: 1000 entries, each a valid key.
    let mut request = lookup_request("count-at");
    request.required_keys = keys(MAX_LISTED_KEYS, "").into_keys().collect();
    ok(get_or_create(&web, &request).await);
    request.required_keys.push("Z_EXTRA".into());
    assert_refused(
        get_or_create(&web, &request).await,
        Code::InvalidArgument,
        "required_keys: 1001 entries",
    );
    request.required_keys = vec![too_long.clone()];
    assert_refused(
        get_or_create(&web, &request).await,
        Code::InvalidArgument,
        "required_keys",
    );

    // Updates per call: 1000; and their keys and values as above.
    let id = web
        .call(
            "SecretGetOrCreate",
            &create_request("upd", ObjectCreationType::CreateFailIfExists, &[]),
        )
        .await
        .decode::<SecretGetOrCreateResponse>()
        .unwrap()
        .secret_id;
    let update = |updates: Vec<Update>| SecretUpdateRequest {
        secret_id: id.clone(),
        updates,
    };
    let set = |k: &str, v: &str| Update {
        key: k.to_owned(),
        value: Some(v.to_owned()),
    };
    let many: Vec<Update> = (0..MAX_LISTED_KEYS)
        .map(|i| set(&format!("U{i}"), "v"))
        .collect();
    let answer = web.call("SecretUpdate", &update(many.clone())).await;
    assert_eq!(answer.code(), Code::Ok, "{}", answer.message());
    let mut one_more = many;
    one_more.push(set("U_EXTRA", "v"));
    let answer = web.call("SecretUpdate", &update(one_more)).await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(answer.message().contains("updates: 1001 entries"));
    // A new key past 1000 in the secret.
    let answer = web
        .call("SecretUpdate", &update(vec![set("NEW", "v")]))
        .await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(
        answer.message().contains("1001 keys"),
        "{}",
        answer.message()
    );
    for (key, value, mentions) in [
        (too_long.as_str(), "v", "updates.key"),
        ("U1", over.as_str(), "updates.value"),
        ("1BAD", "v", "updates.key"),
    ] {
        let answer = web
            .call("SecretUpdate", &update(vec![set(key, value)]))
            .await;
        assert_eq!(answer.code(), Code::InvalidArgument, "{key}");
        assert!(answer.message().contains(mentions), "{}", answer.message());
    }

    // Secret ids: `st-` and at most 64 alphanumerics.
    for id in [
        "st-".to_owned() + &"a".repeat(65),
        "st-a/b".into(),
        String::new(),
    ] {
        let answer = web
            .call("SecretGetInfo", &SecretGetInfoRequest { secret_id: id })
            .await;
        assert_eq!(answer.code(), Code::InvalidArgument);
    }
    let answer = web
        .call(
            "SecretGetInfo",
            &SecretGetInfoRequest {
                secret_id: "st-".to_owned() + &"a".repeat(64),
            },
        )
        .await;
    assert_eq!(answer.code(), Code::NotFound);
}

#[tokio::test]
async fn a_secret_holds_at_most_4_mib() {
    let server = TestServer::start().await;
    let web = server.web();
    // 60 values of 64 KiB (3.75 MiB) in one create, then updates adding more.
    let id = web
        .call(
            "SecretGetOrCreate",
            &create_fail("big", keys(60, &"v".repeat(MAX_VALUE_BYTES))),
        )
        .await
        .decode::<SecretGetOrCreateResponse>()
        .unwrap()
        .secret_id;
    let add = |from: usize, n: usize| SecretUpdateRequest {
        secret_id: id.clone(),
        updates: (from..from + n)
            .map(|i| Update {
                key: format!("M{i}"),
                value: Some("v".repeat(MAX_VALUE_BYTES)),
            })
            .collect(),
    };
    let answer = web.call("SecretUpdate", &add(0, 3)).await;
    assert_eq!(answer.code(), Code::Ok, "63 values fit");
    let answer = web.call("SecretUpdate", &add(3, 2)).await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(
        answer
            .message()
            .contains(&format!("at most {MAX_SECRET_BYTES} allowed")),
        "{}",
        answer.message()
    );
    // Nothing of the refused update was kept.
    let info = web
        .call(
            "SecretGetInfo",
            &SecretGetInfoRequest {
                secret_id: id.clone(),
            },
        )
        .await
        .decode::<modal_secrets_core::proto::SecretGetInfoResponse>()
        .unwrap();
    assert_eq!(info.metadata.unwrap().keys.len(), 63);
    // A request beyond 4 MiB is refused before it is decoded.
    let answer = web
        .call(
            "SecretGetOrCreate",
            &create_fail("huge", keys(70, &"v".repeat(MAX_VALUE_BYTES))),
        )
        .await;
    assert_eq!(answer.code(), Code::OutOfRange);
    assert!(
        answer
            .message()
            .contains(&format!("at most {MAX_REQUEST_BYTES}")),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn secrets_per_environment() {
    let server = TestServer::start().await;
    server
        .running()
        .store()
        .unwrap()
        .set_max_secrets_per_environment(5);
    let web = server.web();
    for i in 0..4 {
        let r = get_or_create(&web, &create_fail(&format!("s{i}"), keys(1, "v"))).await;
        assert_eq!(r.0, Code::Ok, "{}", r.1);
    }
    // Ephemeral secrets count too.
    let ephemeral = SecretGetOrCreateRequest {
        object_creation_type: ObjectCreationType::Ephemeral as i32,
        ..Default::default()
    };
    assert_eq!(get_or_create(&web, &ephemeral).await.0, Code::Ok);
    assert_refused(
        get_or_create(&web, &create_fail("s5", keys(1, "v"))).await,
        Code::ResourceExhausted,
        "holds 5 secrets",
    );
    assert_refused(
        get_or_create(&web, &ephemeral).await,
        Code::ResourceExhausted,
        "holds 5 secrets",
    );
    // Overwriting or looking up an existing one is not a new secret.
    let mut overwrite = create_fail("s1", keys(2, "w"));
    overwrite.object_creation_type = ObjectCreationType::CreateOverwriteIfExists as i32;
    assert_eq!(get_or_create(&web, &overwrite).await.0, Code::Ok);
    // Another workspace has its own environments.
    let other = Web::http1(&server.url, server.token_for("ws2"));
    assert_eq!(
        get_or_create(&other, &create_fail("s5", keys(1, "v")))
            .await
            .0,
        Code::Ok
    );
}

#[tokio::test]
async fn credentials_and_headers() {
    let server = TestServer::start().await;
    let long_secret = Token {
        id: server.token.id.clone(),
        secret: format!("as-{}", "x".repeat(MAX_TOKEN_SECRET_BYTES)),
    };
    let long_id = Token {
        id: format!("ak-{}", "x".repeat(65)),
        secret: server.token.secret.clone(),
    };
    for token in [long_secret, long_id] {
        let web = Web::http1(&server.url, token);
        let answer = web.call("SecretGetOrCreate", &lookup_request("x")).await;
        assert_eq!(answer.code(), Code::Unauthenticated);
    }
    let web = server.web();
    let huge_jwt = "e".repeat(5000);
    let answer = Web {
        token: None,
        ..server.web()
    }
    .call_raw(
        "ClientHello",
        vec![0, 0, 0, 0, 0],
        &[("x-modal-auth-token", &huge_jwt)],
    )
    .await;
    assert_eq!(answer.code(), Code::Unauthenticated);

    // HTTP/2: a header list over 16 KiB is refused by the HTTP/2 layer; the server goes on.
    let h2 = Web::http2(&server.url, server.token.clone());
    let big = "h".repeat(20 << 10);
    let sent = h2
        .http
        .post(format!(
            "{}/modal.client.ModalClient/ClientHello",
            server.url
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-big", &big)
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await;
    match sent {
        Err(_) => {}
        Ok(answer) => assert_ne!(answer.status(), 200, "a 20 KiB header was accepted"),
    }
    let answer = web.call("SecretGetOrCreate", &lookup_request("x")).await;
    assert_eq!(answer.code(), Code::NotFound);
    let answer = Web::http2(&server.url, server.token.clone())
        .call("SecretGetOrCreate", &lookup_request("x"))
        .await;
    assert_eq!(answer.code(), Code::NotFound);
}
