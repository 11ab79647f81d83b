//! `x-idempotency-key` on the writing methods (`src/local/idempotency.rs`): a retry with the key of
//! a call that succeeded gets that call's answer and changes nothing (type-2 and type-3 creates,
//! ephemeral creates, updates, deletes), over gRPC-web and gRPC alike; the same key with another
//! request is INVALID_ARGUMENT; errors are not kept; another workspace's key is another key;
//! attempts in flight together run once; answers expire and are capped; a gateway keeps nothing
//! itself.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Grpc, Token, Web, create_request, lookup_request, new_idempotency_key};
use modal_secrets_core::Code;
use modal_secrets_core::grpc_web::{self, HttpResponse, Limits};
use modal_secrets_core::proto::{
    ObjectCreationType, SecretDeleteRequest, SecretGetOrCreateRequest, SecretGetOrCreateResponse,
    SecretUpdateRequest, secret_update_request::Update,
};
use modal_secrets_server::local::idempotency::IdempotencyLimits;
use modal_secrets_server::{Config, Running};
use prost::Message;
use tokio::sync::Barrier;

const KEY: &str = "x-idempotency-key";

struct Server {
    running: Running,
    _dir: tempfile::TempDir,
    ws1: Token,
    ws2: Token,
}

async fn start(limits: IdempotencyLimits) -> Server {
    modal_secrets_server::log::set_quiet(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let running = modal_secrets_server::start(Config {
        idempotency: limits,
        ..Config::new("127.0.0.1:0", dir.path().join("data"))
    })
    .await
    .expect("server starts");
    let token = |ws: &str| {
        let t = running.store().unwrap().create_token(ws).unwrap();
        common::audit::token(t.token_secret.expose());
        Token {
            id: t.token_id,
            secret: t.token_secret.expose().clone(),
        }
    };
    let (ws1, ws2) = (token("ws1"), token("ws2"));
    Server {
        running,
        _dir: dir,
        ws1,
        ws2,
    }
}

impl Server {
    fn web(&self) -> Web {
        Web::http1(&self.running.url(), self.ws1.clone())
    }
    fn web2(&self) -> Web {
        Web::http1(&self.running.url(), self.ws2.clone())
    }
    async fn grpc(&self) -> Grpc {
        Grpc::connect(&self.running.url(), self.ws1.clone()).await
    }
    /// The keys of secret `name` in ws1, or its lookup's status.
    async fn keys_of(&self, name: &str) -> Result<Vec<String>, Code> {
        let answer = self
            .web()
            .call("SecretGetOrCreate", &lookup_request(name))
            .await;
        match answer.code() {
            Code::Ok => Ok(answer
                .decode::<SecretGetOrCreateResponse>()
                .unwrap()
                .metadata
                .unwrap()
                .keys),
            code => Err(code),
        }
    }
}

/// A call over gRPC-web with this key: the status and, if OK, the message bytes.
async fn call(web: &Web, method: &str, message: &impl Message, key: &str) -> Answer {
    let body = grpc_web::encode_request(message).expect("encode");
    let answer = web.call_raw(method, body, &[(KEY, key)]).await;
    let response = HttpResponse {
        status: answer.status,
        headers: &answer.headers,
        body: &answer.body,
    };
    let body = grpc_web::decode_response(&response, Limits::default())
        .outcome
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    Answer {
        code: answer.code(),
        message: answer.message(),
        body,
    }
}

#[derive(Debug)]
struct Answer {
    code: Code,
    message: String,
    /// The message bytes of an OK answer.
    body: Vec<u8>,
}

impl Answer {
    fn created(&self) -> SecretGetOrCreateResponse {
        assert_eq!(self.code, Code::Ok, "{}", self.message);
        SecretGetOrCreateResponse::decode(&self.body[..]).expect("a SecretGetOrCreateResponse")
    }
}

fn create(
    name: &str,
    kind: ObjectCreationType,
    pairs: &[(&str, &str)],
) -> SecretGetOrCreateRequest {
    create_request(name, kind, pairs)
}

fn delete(id: &str) -> SecretDeleteRequest {
    SecretDeleteRequest {
        secret_id: id.to_owned(),
    }
}

fn update(id: &str, set: &[(&str, &str)], remove: &[&str]) -> SecretUpdateRequest {
    for (_, v) in set {
        common::audit::value(v);
    }
    let mut updates: Vec<Update> = set
        .iter()
        .map(|(k, v)| Update {
            key: (*k).to_owned(),
            value: Some((*v).to_owned()),
        })
        .collect();
    updates.extend(remove.iter().map(|k| Update {
        key: (*k).to_owned(),
        value: None,
    }));
    SecretUpdateRequest {
        secret_id: id.to_owned(),
        updates,
    }
}

use ObjectCreationType::{CreateFailIfExists, CreateOverwriteIfExists, Ephemeral};

#[tokio::test]
async fn create_fail_if_exists_retried_gets_its_own_answer() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let request = create("lost-create", CreateFailIfExists, &[("A", "idem-value-1")]);
    let key = new_idempotency_key();
    let first = call(&web, "SecretGetOrCreate", &request, &key).await;
    let created = first.created();
    // The retry, over gRPC-web on another connection: the first answer, byte for byte.
    let again = call(&server.web(), "SecretGetOrCreate", &request, &key).await;
    assert_eq!(again.code, Code::Ok, "{}", again.message);
    assert_eq!(again.body, first.body);
    // And over plain gRPC (the digest is of the message, not of its transport).
    let mut grpc = server.grpc().await;
    let mut r = grpc.request(request.clone());
    r.metadata_mut().insert(KEY, key.parse().unwrap());
    let over_grpc = grpc.client.secret_get_or_create(r).await.expect("replayed");
    assert_eq!(over_grpc.into_inner(), created);
    // A new key is a new call: the name is taken.
    let other = call(&web, "SecretGetOrCreate", &request, &new_idempotency_key()).await;
    assert_eq!(other.code, Code::AlreadyExists, "{}", other.message);
    // One secret, the first's.
    let list = web
        .call(
            "SecretList",
            &modal_secrets_core::proto::SecretListRequest::default(),
        )
        .await
        .decode::<modal_secrets_core::proto::SecretListResponse>()
        .unwrap();
    let named: Vec<_> = list
        .items
        .iter()
        .filter(|i| i.label == "lost-create")
        .collect();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].secret_id, created.secret_id);
}

#[tokio::test]
async fn the_first_attempt_over_grpc_the_retry_over_grpc_web() {
    let server = start(IdempotencyLimits::default()).await;
    let request = create("via-grpc", CreateFailIfExists, &[("A", "idem-value-g")]);
    let key = new_idempotency_key();
    let mut grpc = server.grpc().await;
    let mut r = grpc.request(request.clone());
    r.metadata_mut().insert(KEY, key.parse().unwrap());
    let created = grpc
        .client
        .secret_get_or_create(r)
        .await
        .unwrap()
        .into_inner();
    let retried = call(&server.web(), "SecretGetOrCreate", &request, &key).await;
    assert_eq!(retried.created(), created);
    // Without a key, nothing is kept: a plain repeat is a new call.
    let mut r = grpc.request(request.clone());
    r.metadata_mut().remove(KEY);
    let status = grpc.client.secret_get_or_create(r).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
}

#[tokio::test]
async fn ephemeral_create_retried_makes_one_secret() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let request = create("", Ephemeral, &[("E", "idem-value-e")]);
    let key = new_idempotency_key();
    let first = call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    let again = call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    assert_eq!(again, first);
    let other = call(&web, "SecretGetOrCreate", &request, &new_idempotency_key())
        .await
        .created();
    assert_ne!(
        other.secret_id, first.secret_id,
        "a new key makes a new secret"
    );
}

#[tokio::test]
async fn overwrite_retried_is_not_applied_again() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let request = create("over", CreateOverwriteIfExists, &[("A", "idem-value-o")]);
    let key = new_idempotency_key();
    let first = call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    // Someone else changes it in between.
    let changed = call(
        &web,
        "SecretUpdate",
        &update(&first.secret_id, &[("B", "idem-value-b")], &["A"]),
        &new_idempotency_key(),
    )
    .await;
    assert_eq!(changed.code, Code::Ok, "{}", changed.message);
    let retried = call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    assert_eq!(retried, first, "the first call's answer");
    assert_eq!(
        server.keys_of("over").await,
        Ok(vec!["B".to_owned()]),
        "not overwritten again"
    );
}

#[tokio::test]
async fn update_retried_is_not_applied_again() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let id = call(
        &web,
        "SecretGetOrCreate",
        &create("upd", CreateFailIfExists, &[("A", "idem-value-u")]),
        &new_idempotency_key(),
    )
    .await
    .created()
    .secret_id;
    let request = update(&id, &[("X", "idem-value-x")], &[]);
    let key = new_idempotency_key();
    let first = call(&web, "SecretUpdate", &request, &key).await;
    assert_eq!(first.code, Code::Ok, "{}", first.message);
    let removed = call(
        &web,
        "SecretUpdate",
        &update(&id, &[], &["X"]),
        &new_idempotency_key(),
    )
    .await;
    assert_eq!(removed.code, Code::Ok);
    let again = call(&web, "SecretUpdate", &request, &key).await;
    assert_eq!(again.code, Code::Ok, "{}", again.message);
    assert_eq!(
        server.keys_of("upd").await,
        Ok(vec!["A".to_owned()]),
        "X not set again"
    );
}

#[tokio::test]
async fn delete_retried_answers_ok() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let id = call(
        &web,
        "SecretGetOrCreate",
        &create("del", CreateFailIfExists, &[("A", "idem-value-d")]),
        &new_idempotency_key(),
    )
    .await
    .created()
    .secret_id;
    let key = new_idempotency_key();
    for attempt in 0..2 {
        let answer = call(&web, "SecretDelete", &delete(&id), &key).await;
        assert_eq!(
            answer.code,
            Code::Ok,
            "attempt {attempt}: {}",
            answer.message
        );
    }
    // And over gRPC with the same key.
    let mut grpc = server.grpc().await;
    let mut r = grpc.request(delete(&id));
    r.metadata_mut().insert(KEY, key.parse().unwrap());
    grpc.client
        .secret_delete(r)
        .await
        .expect("replayed over gRPC");
    assert_eq!(server.keys_of("del").await, Err(Code::NotFound));
    let other = call(&web, "SecretDelete", &delete(&id), &new_idempotency_key()).await;
    assert_eq!(other.code, Code::NotFound, "a new key: {}", other.message);
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_invalid_argument() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let key = new_idempotency_key();
    let first = call(
        &web,
        "SecretGetOrCreate",
        &create("reuse", CreateFailIfExists, &[("A", "idem-first-value")]),
        &key,
    )
    .await
    .created();
    let others = [
        create("reuse", CreateFailIfExists, &[("A", "idem-other-value")]),
        create(
            "reuse",
            CreateOverwriteIfExists,
            &[("A", "idem-first-value")],
        ),
        create("reuse-2", CreateFailIfExists, &[("A", "idem-first-value")]),
        create("", Ephemeral, &[("A", "idem-first-value")]),
    ];
    for request in &others {
        let answer = call(&web, "SecretGetOrCreate", request, &key).await;
        assert_eq!(answer.code, Code::InvalidArgument, "{request:?}");
        assert!(answer.message.contains(KEY), "{}", answer.message);
        for leaked in ["idem-other-value", "idem-first-value", "reuse", &key] {
            assert!(!answer.message.contains(leaked), "{}", answer.message);
        }
    }
    // Nothing of those ran: the secret holds the first value, and no other secret was made.
    let values = server
        .running
        .store()
        .unwrap()
        .reveal_values(&first.secret_id)
        .unwrap();
    assert_eq!(
        values.get("A").map(String::as_str),
        Some("idem-first-value")
    );
    assert_eq!(server.keys_of("reuse-2").await, Err(Code::NotFound));
    // The same key on another method is that method's own: an update runs.
    let updated = call(
        &web,
        "SecretUpdate",
        &update(&first.secret_id, &[("B", "idem-b")], &[]),
        &key,
    )
    .await;
    assert_eq!(updated.code, Code::Ok, "{}", updated.message);
    // A lookup ignores the key.
    let looked = call(&web, "SecretGetOrCreate", &lookup_request("reuse"), &key).await;
    assert_eq!(looked.code, Code::Ok, "{}", looked.message);
}

#[tokio::test]
async fn bad_keys_are_invalid_argument() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let long = "k".repeat(129);
    let spaced = "a key with spaces";
    for key in [long.as_str(), spaced] {
        let answer = call(
            &web,
            "SecretGetOrCreate",
            &create("bad-key", CreateFailIfExists, &[("A", "idem-value-k")]),
            key,
        )
        .await;
        assert_eq!(answer.code, Code::InvalidArgument, "{key:?}");
        assert!(answer.message.contains(KEY), "{}", answer.message);
        let answer = call(&web, "SecretDelete", &delete("st-abc"), key).await;
        assert_eq!(answer.code, Code::InvalidArgument, "{key:?}");
    }
    let at_limit = "k".repeat(128);
    let answer = call(
        &web,
        "SecretGetOrCreate",
        &create("bad-key", CreateFailIfExists, &[("A", "idem-value-k")]),
        &at_limit,
    )
    .await;
    assert_eq!(answer.code, Code::Ok, "{}", answer.message);
}

#[tokio::test]
async fn errors_are_not_kept() {
    let server = start(IdempotencyLimits::default()).await;
    let web = server.web();
    let existing = call(
        &web,
        "SecretGetOrCreate",
        &create("taken", CreateFailIfExists, &[("A", "idem-value-t")]),
        &new_idempotency_key(),
    )
    .await
    .created();
    let request = create("taken", CreateFailIfExists, &[("B", "idem-value-t2")]);
    let key = new_idempotency_key();
    let refused = call(&web, "SecretGetOrCreate", &request, &key).await;
    assert_eq!(refused.code, Code::AlreadyExists);
    let gone = call(
        &web,
        "SecretDelete",
        &delete(&existing.secret_id),
        &new_idempotency_key(),
    )
    .await;
    assert_eq!(gone.code, Code::Ok);
    let retried = call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    assert_eq!(
        retried.metadata.unwrap().keys,
        ["B"],
        "the retry ran: the error was not kept"
    );
}

#[tokio::test]
async fn another_workspace_with_the_same_key_is_unaffected() {
    let server = start(IdempotencyLimits::default()).await;
    let (web1, web2) = (server.web(), server.web2());
    let request = create("shared-name", CreateFailIfExists, &[("A", "idem-value-w")]);
    let key = new_idempotency_key();
    let one = call(&web1, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    // The same key and the same bytes from ws2: ws2's own call, its own secret.
    let two = call(&web2, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    assert_ne!(two.secret_id, one.secret_id, "not ws1's answer");
    // ws2 repeating ws1's delete of ws1's secret with ws1's key: NOT_FOUND, not ws1's OK.
    let del_key = new_idempotency_key();
    let deleted = call(&web1, "SecretDelete", &delete(&one.secret_id), &del_key).await;
    assert_eq!(deleted.code, Code::Ok);
    let foreign = call(&web2, "SecretDelete", &delete(&one.secret_id), &del_key).await;
    assert_eq!(foreign.code, Code::NotFound, "{}", foreign.message);
    // ws2's use of the key changed nothing in ws1: reused there with another request, it is
    // still ws1's conflict; and a key ws2 used first is no conflict in ws1.
    let in_ws1 = call(
        &web1,
        "SecretGetOrCreate",
        &create("ws1-only", CreateFailIfExists, &[]),
        &key,
    )
    .await;
    assert_eq!(
        in_ws1.code,
        Code::InvalidArgument,
        "ws1's own key, reused: {}",
        in_ws1.message
    );
    let other = new_idempotency_key();
    let w2 = call(
        &web2,
        "SecretGetOrCreate",
        &create("w2", CreateFailIfExists, &[]),
        &other,
    )
    .await;
    assert_eq!(w2.code, Code::Ok);
    let w1 = call(
        &web1,
        "SecretGetOrCreate",
        &create("w1", CreateFailIfExists, &[]),
        &other,
    )
    .await;
    assert_eq!(
        w1.code,
        Code::Ok,
        "ws2's key is no conflict in ws1: {}",
        w1.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_in_flight_together_run_once() {
    const ATTEMPTS: usize = 24;
    let server = start(IdempotencyLimits::default()).await;
    for (round, request) in [
        create("", Ephemeral, &[("E", "idem-value-c")]),
        create("contested", CreateFailIfExists, &[("C", "idem-value-c2")]),
    ]
    .into_iter()
    .enumerate()
    {
        let key = new_idempotency_key();
        let barrier = Arc::new(Barrier::new(ATTEMPTS));
        let mut tasks = Vec::new();
        for i in 0..ATTEMPTS {
            let web = if i % 2 == 0 {
                Web::http1(&server.running.url(), server.ws1.clone())
            } else {
                Web::http2(&server.running.url(), server.ws1.clone())
            };
            let hello = web.call("ClientHello", &()).await;
            assert_eq!(hello.code(), Code::Ok);
            let (barrier, request, key) = (Arc::clone(&barrier), request.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                call(&web, "SecretGetOrCreate", &request, &key).await
            }));
        }
        let mut ids = Vec::new();
        for task in tasks {
            ids.push(task.await.unwrap().created().secret_id);
        }
        ids.dedup();
        assert_eq!(
            ids.len(),
            1,
            "round {round}: one secret for one key: {ids:?}"
        );
    }
}

#[tokio::test]
async fn answers_are_capped_oldest_first() {
    let server = start(IdempotencyLimits {
        window: Duration::from_secs(600),
        max_entries: 2,
        max_bytes: 1 << 20,
    })
    .await;
    let web = server.web();
    let mut calls = Vec::new();
    for i in 0..3 {
        let request = create(&format!("cap-{i}"), CreateFailIfExists, &[]);
        let key = new_idempotency_key();
        call(&web, "SecretGetOrCreate", &request, &key)
            .await
            .created();
        calls.push((request, key));
    }
    // The oldest was dropped: its retry runs again and finds the name taken.
    let (request, key) = &calls[0];
    let evicted = call(&web, "SecretGetOrCreate", request, key).await;
    assert_eq!(evicted.code, Code::AlreadyExists);
    for (request, key) in &calls[1..] {
        let kept = call(&web, "SecretGetOrCreate", request, key).await;
        assert_eq!(kept.code, Code::Ok, "{}", kept.message);
    }
}

#[tokio::test]
async fn answers_expire_after_the_window() {
    let server = start(IdempotencyLimits {
        window: Duration::from_millis(300),
        ..IdempotencyLimits::default()
    })
    .await;
    let web = server.web();
    let request = create("expires", CreateFailIfExists, &[]);
    let key = new_idempotency_key();
    call(&web, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    let soon = call(&web, "SecretGetOrCreate", &request, &key).await;
    assert_eq!(soon.code, Code::Ok, "within the window: {}", soon.message);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let late = call(&web, "SecretGetOrCreate", &request, &key).await;
    assert_eq!(
        late.code,
        Code::AlreadyExists,
        "past the window the key is forgotten"
    );
}

#[tokio::test]
async fn a_gateway_forwards_the_key_and_keeps_nothing() {
    let Server {
        running,
        _dir: dir,
        ws1,
        ..
    } = start(IdempotencyLimits::default()).await;
    let addr = running.local_addr();
    let gateway = modal_secrets_server::start(Config::gateway("127.0.0.1:0", running.url()))
        .await
        .expect("gateway starts");
    let via = Web::http1(&gateway.url(), ws1);
    let request = create(
        "through-gateway",
        CreateFailIfExists,
        &[("A", "idem-value-gw")],
    );
    let key = new_idempotency_key();
    let first = call(&via, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    let again = call(&via, "SecretGetOrCreate", &request, &key)
        .await
        .created();
    assert_eq!(
        again, first,
        "the upstream got the key and answered the retry"
    );
    // Restart the upstream on the same address: it forgets its keys, and the gateway, which keeps
    // none, forwards the retry, which now runs (and finds the name taken).
    running
        .shutdown(Duration::from_secs(5))
        .await
        .expect("stops");
    let restarted =
        modal_secrets_server::start(Config::new(addr.to_string(), dir.path().join("data")))
            .await
            .expect("restarts on the same address");
    let late = call(&via, "SecretGetOrCreate", &request, &key).await;
    assert_eq!(late.code, Code::AlreadyExists, "{}", late.message);
    gateway.shutdown(Duration::from_secs(5)).await.unwrap();
    restarted.shutdown(Duration::from_secs(5)).await.unwrap();
}
