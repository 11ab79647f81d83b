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
    DEFAULT_WORKSPACE_QUOTA_BYTES, LIST_PAGE_BYTES, MAX_KEY_BYTES, MAX_KEY_NAME_BYTES_PER_SECRET,
    MAX_KEYS_PER_SECRET, MAX_LISTED_KEYS, MAX_NAME_CHARS, MAX_REQUEST_BYTES, MAX_SECRET_BYTES,
    MAX_TOKEN_SECRET_BYTES, MAX_VALUE_BYTES,
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

/// `n` keys whose names add up to exactly `total` bytes (each at least 2).
fn keys_totalling(n: usize, total: usize) -> BTreeMap<String, String> {
    let base = total / n;
    let extra = total % n;
    (0..n)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let name = format!("K{i:04}");
            let key = format!("{name}{}", "x".repeat(len - name.len()));
            (key, "v".to_owned())
        })
        .collect()
}

/// Finding 5 of issue 14: the key names of one secret add up to at most
/// MAX_KEY_NAME_BYTES_PER_SECRET, at create and after an update.
#[tokio::test]
async fn key_names_per_secret_are_bounded() {
    let server = TestServer::start().await;
    let web = server.web();
    let at = keys_totalling(999, MAX_KEY_NAME_BYTES_PER_SECRET);
    let answer = web
        .call("SecretGetOrCreate", &create_fail("names-at", at))
        .await;
    assert_eq!(answer.code(), Code::Ok, "{}", answer.message());
    let over = keys_totalling(1000, MAX_KEY_NAME_BYTES_PER_SECRET + 1);
    assert_refused(
        get_or_create(&web, &create_fail("names-over", over)).await,
        Code::InvalidArgument,
        "key names",
    );
    let id = answer
        .decode::<SecretGetOrCreateResponse>()
        .unwrap()
        .secret_id;
    // Replacing one key by a longer one passes the total.
    let answer = web
        .call(
            "SecretUpdate",
            &SecretUpdateRequest {
                secret_id: id,
                updates: vec![Update {
                    key: "LONGER_ONE".into(),
                    value: Some("v".into()),
                }],
            },
        )
        .await;
    assert_eq!(answer.code(), Code::InvalidArgument);
    assert!(
        answer.message().contains("key names"),
        "{}",
        answer.message()
    );
}

/// Finding 5 of issue 14: a SecretList answer stays under LIST_PAGE_BYTES whatever max_objects
/// asks; a page of 100 (what Modal's clients ask, and stop on when short) is always whole; paging
/// on from the last item's created_at gives every secret once.
#[tokio::test]
async fn list_pages_stay_under_the_byte_budget() {
    let server = TestServer::start().await;
    let web = server.web();
    let n = 120;
    for i in 0..n {
        let dict = keys_totalling(1000, MAX_KEY_NAME_BYTES_PER_SECRET);
        let answer = web
            .call(
                "SecretGetOrCreate",
                &create_fail(&format!("big-{i:03}"), dict),
            )
            .await;
        assert_eq!(answer.code(), Code::Ok, "{}", answer.message());
    }
    let list = |max: i32, before: f64| SecretListRequest {
        environment_name: String::new(),
        pagination: Some(ListPagination {
            max_objects: max,
            created_before: before,
        }),
    };
    // Everything asked at once: one page under the budget, cut short.
    let answer = web.call("SecretList", &list(100_000, 0.0)).await;
    let page = answer
        .decode::<modal_secrets_core::proto::SecretListResponse>()
        .unwrap();
    let bytes = prost::Message::encoded_len(&page);
    eprintln!(
        "max_objects 100000: {} items, {bytes} bytes (budget {LIST_PAGE_BYTES})",
        page.items.len()
    );
    assert!(bytes <= LIST_PAGE_BYTES, "{bytes}");
    assert!(!page.items.is_empty() && page.items.len() < n);
    // Paging on from the last item's created_at gives the rest, each once, newest first.
    let mut names: Vec<String> = page.items.iter().map(|i| i.label.clone()).collect();
    let mut cursor = page.items.last().unwrap().created_at;
    loop {
        let page = web
            .call("SecretList", &list(100_000, cursor))
            .await
            .decode::<modal_secrets_core::proto::SecretListResponse>()
            .unwrap();
        assert!(prost::Message::encoded_len(&page) <= LIST_PAGE_BYTES);
        let Some(last) = page.items.last() else { break };
        cursor = last
            .metadata
            .as_ref()
            .unwrap()
            .creation_info
            .as_ref()
            .unwrap()
            .created_at;
        names.extend(page.items.iter().map(|i| i.label.clone()));
    }
    let want: Vec<String> = (0..n).rev().map(|i| format!("big-{i:03}")).collect();
    assert_eq!(names, want);
    // Pages of 100, and the default page, are whole (Python's client stops on a short page).
    for max in [100, 0] {
        let page = web
            .call("SecretList", &list(max, 0.0))
            .await
            .decode::<modal_secrets_core::proto::SecretListResponse>()
            .unwrap();
        assert_eq!(page.items.len(), 100, "max_objects {max}");
        assert!(prost::Message::encoded_len(&page) <= LIST_PAGE_BYTES);
    }
}

/// Finding 6 of issue 14: a workspace holds at most --workspace-quota-bytes of keys and sealed
/// values, all environments together; past it a write is RESOURCE_EXHAUSTED; deleting makes room;
/// another workspace is not affected.
#[tokio::test]
async fn workspace_storage_quota() {
    const QUOTA: u64 = 1 << 20;
    let server = TestServer::start_config(|config| config.workspace_quota_bytes = QUOTA).await;
    let web = server.web();
    let value = "v".repeat(MAX_VALUE_BYTES);
    // 64 KiB values: about 15 fit in 1 MiB with their keys and sealing overhead.
    let mut ids = Vec::new();
    let mut refused = None;
    for i in 0..40 {
        let answer = web
            .call(
                "SecretGetOrCreate",
                &create_fail(&format!("q{i}"), keys(1, &value)),
            )
            .await;
        match answer.code() {
            Code::Ok => ids.push(
                answer
                    .decode::<SecretGetOrCreateResponse>()
                    .unwrap()
                    .secret_id,
            ),
            Code::ResourceExhausted => {
                refused = Some(answer.message());
                break;
            }
            other => panic!("{other:?}: {}", answer.message()),
        }
    }
    let message = refused.expect("refused before 40 × 64 KiB");
    assert!(message.contains("quota"), "{message}");
    assert!((14..=16).contains(&ids.len()), "{} fit", ids.len());
    // An update adding a value, and an ephemeral create, are refused too.
    let answer = web
        .call(
            "SecretUpdate",
            &SecretUpdateRequest {
                secret_id: ids[0].clone(),
                updates: vec![Update {
                    key: "MORE".into(),
                    value: Some(value.clone()),
                }],
            },
        )
        .await;
    assert_eq!(
        answer.code(),
        Code::ResourceExhausted,
        "{}",
        answer.message()
    );
    let mut ephemeral = create_fail("", keys(1, &value));
    ephemeral.object_creation_type = ObjectCreationType::Ephemeral as i32;
    assert_eq!(
        web.call("SecretGetOrCreate", &ephemeral).await.code(),
        Code::ResourceExhausted
    );
    // Another workspace has its own quota.
    let other = Web::http1(&server.url, server.token_for("ws-other"));
    let answer = other
        .call("SecretGetOrCreate", &create_fail("q0", keys(1, &value)))
        .await;
    assert_eq!(answer.code(), Code::Ok, "{}", answer.message());
    // Deleting makes room again.
    let answer = web
        .call(
            "SecretDelete",
            &modal_secrets_core::proto::SecretDeleteRequest {
                secret_id: ids[1].clone(),
            },
        )
        .await;
    assert_eq!(answer.code(), Code::Ok);
    let answer = web
        .call(
            "SecretGetOrCreate",
            &create_fail("q-again", keys(1, &value)),
        )
        .await;
    assert_eq!(answer.code(), Code::Ok, "{}", answer.message());
    // And it holds across a restart (the count is kept in the store).
    let mut server = server;
    server.restart().await;
    let web = Web::http1(&server.url, server.token.clone());
    let answer = web
        .call("SecretGetOrCreate", &create_fail("q-more", keys(1, &value)))
        .await;
    assert_eq!(
        answer.code(),
        Code::ResourceExhausted,
        "{}",
        answer.message()
    );
}

/// The default quota keeps limits.rs's promise: a token holder cannot fill the disk (1 GiB a
/// workspace; secrets' names and counts are bounded per environment on top).
#[test]
fn the_default_quota_is_bounded() {
    assert_eq!(DEFAULT_WORKSPACE_QUOTA_BYTES, 1 << 30);
}
