//! The limit on failed authentications per client address, against real servers on real ports:
//! over plain gRPC and gRPC-web, through a gateway, from a second loopback address, and as the
//! package's own client logic experiences it (it waits the retry policy out, then reports).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::native::Native;
use common::{Grpc, TestServer, Token, Web, lookup_request};
use modal_secrets_core::client::{CallOptions, Client, Tuning};
use modal_secrets_core::config::{ConfigOptions, resolve};
use modal_secrets_core::proto::{
    RPC_RETRY_POLICY_TYPE_URL, RpcRetryPolicy, RpcStatus, SecretGetOrCreateResponse,
};
use modal_secrets_core::retry::{CallState, Decision, RetryPolicy};
use modal_secrets_core::{Code, Error, Redacted};
use modal_secrets_server::Config;
use modal_secrets_server::http::throttle::AuthLimit;
use prost::Message;

const LIMIT: AuthLimit = AuthLimit {
    max_failures: 5,
    window: Duration::from_secs(2),
};

fn wrong(token: &Token) -> Token {
    Token {
        id: token.id.clone(),
        secret: "as-wrongwrongwrongwrongwrongwrong".into(),
    }
}

/// The retry policy in a tonic status's details.
fn retry_after(status: &tonic::Status) -> f32 {
    let details = RpcStatus::decode(status.details()).expect("RPCStatus in the details");
    assert_eq!(details.code, Code::ResourceExhausted as i32);
    let any = details
        .details
        .iter()
        .find(|d| d.type_url == RPC_RETRY_POLICY_TYPE_URL)
        .expect("an RPCRetryPolicy");
    RpcRetryPolicy::decode(any.value.as_slice())
        .expect("decodes")
        .retry_after_secs
}

#[tokio::test]
async fn grpc_refused_after_the_limit_until_the_window_passes() {
    let server = TestServer::start_with_auth_limit(LIMIT).await;
    let grpc = server.grpc().await;
    let mut bad = grpc.with_token(Some(wrong(&server.token)));
    let mut good = grpc.with_token(Some(server.token.clone()));
    let started = Instant::now();
    for i in 0..LIMIT.max_failures {
        let err = bad.get_or_create(lookup_request("x")).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "failure {i}");
    }
    // Refused now, the right token included, before credentials are looked at.
    for g in [&mut bad, &mut good] {
        let err = g.get_or_create(lookup_request("x")).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
        assert!(err.message().contains("too many failed authentications"));
        let secs = retry_after(&err);
        assert!((1.0..=2.0).contains(&secs), "{secs}");
    }
    // Once the window has passed, the right token works and the wrong one is UNAUTHENTICATED.
    tokio::time::sleep(LIMIT.window.saturating_sub(started.elapsed()) + Duration::from_millis(100))
        .await;
    let err = good.get_or_create(lookup_request("x")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
    let err = bad.get_or_create(lookup_request("x")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
}

#[tokio::test]
async fn grpc_web_refusal_is_what_the_package_waits_out() {
    let server = TestServer::start_with_auth_limit(LIMIT).await;
    let mut bad = server.web();
    bad.token = Some(wrong(&server.token));
    for _ in 0..LIMIT.max_failures {
        let answer = bad.call("SecretGetOrCreate", &lookup_request("x")).await;
        assert_eq!(answer.code(), Code::Unauthenticated);
    }
    for web in [
        &bad,
        &server.web(),
        &Web::http2(&server.url, server.token.clone()),
    ] {
        let answer = web.call("SecretGetOrCreate", &lookup_request("x")).await;
        assert_eq!(answer.status, 200);
        let err = answer
            .decode::<SecretGetOrCreateResponse>()
            .expect_err("refused");
        let Error::Status {
            code, retry_after, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*code, Code::ResourceExhausted);
        let wait = retry_after.expect("a retry policy");
        assert!(
            wait >= Duration::from_secs(1) && wait <= LIMIT.window,
            "{wait:?}"
        );
        // The package's policy waits exactly that (not counted as a retry), then tries again.
        let decision = RetryPolicy::default().decide(&err, CallState::default());
        assert_eq!(
            decision,
            Decision::Retry {
                after: wait,
                throttled: true
            }
        );
    }
}

/// A reqwest client whose connections come from `ip` (any 127/8 address is loopback on Linux).
fn web_from(ip: IpAddr, url: &str, token: &Token) -> Web {
    Web {
        http: reqwest::Client::builder()
            .http1_only()
            .local_address(ip)
            .build()
            .expect("client"),
        url: url.to_owned(),
        token: Some(token.clone()),
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn another_address_is_not_affected() {
    let server = TestServer::start_with_auth_limit(LIMIT).await;
    let attacker = web_from(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        &server.url,
        &wrong(&server.token),
    );
    for _ in 0..LIMIT.max_failures + 3 {
        attacker
            .call("SecretGetOrCreate", &lookup_request("x"))
            .await;
    }
    let refused = attacker
        .call("SecretGetOrCreate", &lookup_request("x"))
        .await;
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let me = web_from(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        &server.url,
        &server.token,
    );
    let answer = me.call("SecretGetOrCreate", &lookup_request("x")).await;
    assert_eq!(answer.code(), Code::NotFound);
}

#[tokio::test]
async fn the_package_waits_the_refusal_out_then_reports_the_auth_error() {
    let server = TestServer::start_with_auth_limit(LIMIT).await;
    let t = Native::new();
    let client = |token: &Token| {
        let options = ConfigOptions {
            server_url: Some(server.url.clone()),
            token_id: Some(token.id.clone()),
            token_secret: Some(Redacted::new(token.secret.clone())),
            ..Default::default()
        };
        Client::new(
            &resolve(&options, &Default::default(), None).unwrap(),
            Tuning::default(),
        )
        .unwrap()
    };
    let bad = client(&wrong(&server.token));
    let none = CallOptions { timeout: None };
    let started = Instant::now();
    for _ in 0..LIMIT.max_failures {
        let err = bad.lookup(&t, "x", None, &[], none).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    // Refused: the client waits until the window ends (no longer), then gets its real answer.
    let err = bad.lookup(&t, "x", None, &[], none).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= LIMIT.window && elapsed < LIMIT.window + Duration::from_secs(3),
        "{elapsed:?}"
    );
    // The right token, from the same address, is served normally.
    let good = client(&server.token);
    let err = good.lookup(&t, "x", None, &[], none).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn a_gateway_counts_its_upstreams_refusals() {
    // The upstream has no limit of its own here: what is refused is the gateway's doing.
    let server = TestServer::start_with_auth_limit(AuthLimit {
        max_failures: 0,
        ..LIMIT
    })
    .await;
    let gateway = modal_secrets_server::start(Config {
        auth_limit: LIMIT,
        ..Config::gateway("127.0.0.1:0", server.url.clone())
    })
    .await
    .expect("gateway starts");
    let mut bad = Grpc::connect(&gateway.url(), wrong(&server.token)).await;
    for _ in 0..LIMIT.max_failures {
        let err = bad.get_or_create(lookup_request("x")).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }
    let err = bad.get_or_create(lookup_request("x")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(retry_after(&err) >= 1.0);
    let mut web = Web::http1(&gateway.url(), server.token.clone());
    web.token = Some(server.token.clone());
    let answer = web.call("SecretGetOrCreate", &lookup_request("x")).await;
    assert_eq!(answer.code(), Code::ResourceExhausted);
}

/// A plain-gRPC client (h2c) whose connection comes from `ip`.
async fn grpc_from(ip: IpAddr, url: &str, token: &Token) -> Grpc {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .expect("url")
        .local_address(Some(ip))
        .connect()
        .await
        .expect("connect");
    Grpc {
        client: modal_secrets_server::pb::modal_client_client::ModalClientClient::new(channel),
        token: Some(token.clone()),
        auth_token: None,
    }
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Finding 2 of issue 14, direct callers: failures of one address, or of one token id, never
/// refuse a valid token of another address, nor another token id from the same address.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_callers_failures_never_refuse_another_callers_valid_token() {
    let server = TestServer::start_with_auth_limit(LIMIT).await;
    let other = server.token_for("ws2");
    let attacker = web_from(loopback(2), &server.url, &wrong(&server.token));
    for _ in 0..LIMIT.max_failures + 3 {
        attacker
            .call("SecretGetOrCreate", &lookup_request("x"))
            .await;
    }
    let refused = attacker
        .call("SecretGetOrCreate", &lookup_request("x"))
        .await;
    assert_eq!(refused.code(), Code::ResourceExhausted);
    // The attacked token id, valid, from another address.
    let me = web_from(loopback(3), &server.url, &server.token);
    let answer = me.call("SecretGetOrCreate", &lookup_request("x")).await;
    assert_eq!(answer.code(), Code::NotFound, "{}", answer.message());
    // Another token id, valid, from the attacker's own address (a neighbour behind one NAT).
    let neighbour = web_from(loopback(2), &server.url, &other);
    let answer = neighbour
        .call("SecretGetOrCreate", &lookup_request("x"))
        .await;
    assert_eq!(answer.code(), Code::NotFound, "{}", answer.message());
}

/// Finding 2 of issue 14, through a gateway: the gateway passes each caller's address on in
/// `X-Forwarded-For`, and an upstream that trusts the gateway counts per caller, so one caller's
/// 20 bad calls no longer lock everyone out; guessing through the gateway stays bounded.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn through_a_gateway_one_caller_never_locks_out_another() {
    let server = TestServer::start_config(|config| {
        config.auth_limit = LIMIT;
        config.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    // The gateway's own limit off: what is refused here is the upstream's doing.
    let gateway = modal_secrets_server::start(Config {
        auth_limit: AuthLimit {
            max_failures: 0,
            ..LIMIT
        },
        ..Config::gateway("127.0.0.1:0", server.url.clone())
    })
    .await
    .expect("gateway starts");
    let mut attacker = grpc_from(loopback(2), &gateway.url(), &wrong(&server.token)).await;
    for i in 0..LIMIT.max_failures {
        let err = attacker
            .get_or_create(lookup_request("x"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "failure {i}");
    }
    let err = attacker
        .get_or_create(lookup_request("x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    // Another caller of the gateway, with the attacked token id itself: served.
    for ip in [loopback(3), loopback(1)] {
        let mut me = grpc_from(ip, &gateway.url(), &server.token).await;
        let err = me.get_or_create(lookup_request("x")).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound, "from {ip}: {err:?}");
    }

    // With the gateway's own limit on, the gateway refuses the guesser itself.
    let guarded = modal_secrets_server::start(Config {
        auth_limit: LIMIT,
        ..Config::gateway("127.0.0.1:0", server.url.clone())
    })
    .await
    .expect("gateway starts");
    let mut attacker = grpc_from(loopback(4), &guarded.url(), &wrong(&server.token)).await;
    let mut codes = Vec::new();
    for _ in 0..LIMIT.max_failures * 3 {
        codes.push(
            attacker
                .get_or_create(lookup_request("x"))
                .await
                .unwrap_err()
                .code(),
        );
    }
    let unauthenticated = codes
        .iter()
        .filter(|c| **c == tonic::Code::Unauthenticated)
        .count();
    assert_eq!(unauthenticated, LIMIT.max_failures as usize, "{codes:?}");
    let mut me = grpc_from(loopback(5), &guarded.url(), &server.token).await;
    let err = me.get_or_create(lookup_request("x")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err:?}");
}

/// Finding 2 of issue 14, behind a proxy the operator trusts (`--trusted-proxy`): its
/// `X-Forwarded-For` names the caller; anyone else's is ignored.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let server = TestServer::start_config(|config| {
        config.auth_limit = LIMIT;
        config.trusted_proxies = vec!["127.0.0.9".into()];
    })
    .await;
    // An untrusted caller rotating X-Forwarded-For is still counted as itself.
    let spoofer = web_from(loopback(2), &server.url, &wrong(&server.token));
    let mut codes = Vec::new();
    for i in 0..LIMIT.max_failures + 3 {
        let claimed = format!("10.9.9.{i}");
        let answer = spoofer
            .call_raw(
                "SecretGetOrCreate",
                frame(&lookup_request("x")),
                &[("x-forwarded-for", claimed.as_str())],
            )
            .await;
        codes.push(answer.code());
    }
    assert_eq!(codes.last(), Some(&Code::ResourceExhausted), "{codes:?}");
    // The trusted proxy: each forwarded caller counts on its own.
    let proxy_bad = web_from(loopback(9), &server.url, &wrong(&server.token));
    for _ in 0..LIMIT.max_failures {
        let answer = proxy_bad
            .call_raw(
                "SecretGetOrCreate",
                frame(&lookup_request("x")),
                &[("x-forwarded-for", "10.0.0.1")],
            )
            .await;
        assert_eq!(answer.code(), Code::Unauthenticated);
    }
    let answer = proxy_bad
        .call_raw(
            "SecretGetOrCreate",
            frame(&lookup_request("x")),
            &[("x-forwarded-for", "10.0.0.1")],
        )
        .await;
    assert_eq!(answer.code(), Code::ResourceExhausted);
    let proxy_good = web_from(loopback(9), &server.url, &server.token);
    let answer = proxy_good
        .call_raw(
            "SecretGetOrCreate",
            frame(&lookup_request("x")),
            &[("x-forwarded-for", "10.0.0.2")],
        )
        .await;
    assert_eq!(answer.code(), Code::NotFound, "{}", answer.message());
}

fn frame(message: &impl Message) -> Vec<u8> {
    modal_secrets_core::grpc_web::encode_request(message).expect("encode")
}

/// Finding 7 of issue 14: check and count are one step. 2,000 concurrent bad calls over HTTP/2
/// (8 connections of 250 streams each, queued by the stream cap) get at most the limit checked
/// (UNAUTHENTICATED); every other one is refused (RESOURCE_EXHAUSTED). With a new token id on
/// every call, at most the per-address limit (5 × the limit) are checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_bad_calls_check_at_most_the_limit() {
    let limit = AuthLimit {
        max_failures: 20,
        window: Duration::from_secs(60),
    };
    let server = TestServer::start_with_auth_limit(limit).await;
    for fresh_ids in [false, true] {
        let url = server.running().url();
        // Another address for each round, so the first round's count does not carry over.
        let source = loopback(if fresh_ids { 21 } else { 20 });
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let grpc = grpc_from(
                source,
                &url,
                &wrong(&Token {
                    id: "ak-AAAAAAAAAAAAAAAAAAAAAA".into(),
                    secret: String::new(),
                }),
            )
            .await;
            for _ in 0..250 {
                let mut grpc = grpc.with_token(Some(if fresh_ids {
                    Token {
                        id: random_token_id(),
                        secret: "as-wrongwrongwrongwrongwrongwrong".into(),
                    }
                } else {
                    wrong(&Token {
                        id: "ak-AAAAAAAAAAAAAAAAAAAAAA".into(),
                        secret: String::new(),
                    })
                }));
                tasks.push(tokio::spawn(async move {
                    grpc.get_or_create(lookup_request("x"))
                        .await
                        .unwrap_err()
                        .code()
                }));
            }
        }
        let (mut unauthenticated, mut refused, mut other) = (0, 0, Vec::new());
        for task in tasks {
            match task.await.expect("task") {
                tonic::Code::Unauthenticated => unauthenticated += 1,
                tonic::Code::ResourceExhausted => refused += 1,
                code => other.push(code),
            }
        }
        let most = if fresh_ids {
            5 * limit.max_failures
        } else {
            limit.max_failures
        } as usize;
        eprintln!(
            "fresh token ids: {fresh_ids}: {unauthenticated} checked (UNAUTHENTICATED), \
             {refused} refused, others {other:?}; limit {most}"
        );
        assert!(other.is_empty(), "{other:?}");
        assert!(
            unauthenticated >= 1 && unauthenticated <= most,
            "{unauthenticated} checked, at most {most} allowed"
        );
        assert_eq!(unauthenticated + refused, 2000);
    }
}

fn random_token_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 22];
    getrandom::fill(&mut bytes).expect("random");
    let id: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("ak-{id}")
}
