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
use modal_secrets_server::throttle::AuthLimit;
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
