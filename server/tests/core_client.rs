//! The package's client logic (`modal_secrets_core::client`), natively, against the real server over
//! gRPC-web: the same code the wasm runs, with a reqwest transport in place of `fetch`.

mod common;

use std::time::{Duration, Instant};

use common::native::Native;
use common::{TestServer, Token};
use modal_secrets_core::client::{
    CallOptions, Client, EnvDict, Listing, SecretRecord, Source, Tuning, Update,
};
use modal_secrets_core::config::{ConfigOptions, resolve};
use modal_secrets_core::{Code, Error, Redacted};

fn client(url: &str, token: &Token) -> Client {
    let options = ConfigOptions {
        server_url: Some(url.to_owned()),
        token_id: Some(token.id.clone()),
        token_secret: Some(Redacted::new(token.secret.clone())),
        ..Default::default()
    };
    let config = resolve(&options, &Default::default(), None).unwrap();
    Client::new(&config, Tuning::default()).unwrap()
}

fn dict(pairs: &[(&str, &str)]) -> EnvDict {
    EnvDict::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
}

const NONE: CallOptions = CallOptions { timeout: None };

#[tokio::test]
async fn every_operation_of_the_package_against_the_server() {
    let server = TestServer::start().await;
    let c = client(&server.url, &server.token);
    let t = Native::new();

    c.create(
        &t,
        "db",
        &dict(&[("A", "1"), ("B", "2")]),
        false,
        None,
        NONE,
    )
    .await
    .unwrap();
    let again = c
        .create(&t, "db", &dict(&[("C", "3")]), false, None, NONE)
        .await;
    assert_eq!(again.unwrap_err().code(), Code::AlreadyExists);
    c.create(&t, "db", &dict(&[("C", "3")]), true, None, NONE)
        .await
        .unwrap();

    let record = c.lookup(&t, "db", None, &[], NONE).await.unwrap();
    assert_eq!(record.name.as_deref(), Some("db"));
    assert_eq!(
        record.keys,
        ["A", "B"],
        "allow_existing leaves the secret untouched"
    );
    assert!(record.created_at > 1.7e9);
    let missing_key = c.lookup(&t, "db", None, &["Z".into()], NONE).await;
    assert_eq!(missing_key.unwrap_err().code(), Code::FailedPrecondition);

    let updates = [
        Update {
            key: "C".into(),
            value: Some(Redacted::new("3".into())),
        },
        Update {
            key: "A".into(),
            value: None,
        },
    ];
    c.update(&t, &record.id, &updates, NONE).await.unwrap();
    let info = c.info(&t, &record.id, NONE).await.unwrap();
    assert_eq!(info.keys, ["B", "C"]);
    assert_eq!(info.created_at, record.created_at);

    let source = Source::Dict(dict(&[("E", "1")]));
    let ephemeral = c.hydrate(&t, &source, NONE).await.unwrap();
    assert!(ephemeral.id.starts_with("st-"));
    assert_eq!(ephemeral.name, None);

    assert!(c.delete(&t, "db", false, None, NONE).await.unwrap());
    assert!(!c.delete(&t, "db", true, None, NONE).await.unwrap());
    let gone = c.delete(&t, "db", false, None, NONE).await;
    assert_eq!(gone.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn a_listing_pages_through_250_secrets_once_each_newest_first() {
    let server = TestServer::start().await;
    let c = client(&server.url, &server.token);
    let t = Native::new();
    for i in 0..250 {
        c.create(
            &t,
            &format!("s{i:03}"),
            &dict(&[("K", "v")]),
            false,
            None,
            NONE,
        )
        .await
        .unwrap();
    }
    let mut listing = Listing::new(None, None, None).unwrap();
    let mut all: Vec<SecretRecord> = Vec::new();
    let mut requests = 0;
    while let Some(request) = listing.next_request() {
        requests += 1;
        let page = c.list_page(&t, &request, NONE).await.unwrap();
        all.extend(listing.accept(&request, page).unwrap());
    }
    assert_eq!(requests, 3);
    let names: Vec<String> = all.iter().map(|r| r.name.clone().unwrap()).collect();
    let want: Vec<String> = (0..250).rev().map(|i| format!("s{i:03}")).collect();
    assert_eq!(names, want);

    let mut limited = Listing::new(None, Some(120), None).unwrap();
    let mut count = 0;
    while let Some(request) = limited.next_request() {
        let page = c.list_page(&t, &request, NONE).await.unwrap();
        count += limited.accept(&request, page).unwrap().len();
    }
    assert_eq!(count, 120);
}

#[tokio::test]
async fn wrong_tokens_unknown_environments_and_other_workspaces() {
    let server = TestServer::start().await;
    let t = Native::new();
    let c = client(&server.url, &server.token);
    c.create(&t, "mine", &dict(&[("A", "1")]), false, None, NONE)
        .await
        .unwrap();

    let stranger = Token {
        id: "ak-nobody".into(),
        secret: "as-nothing".into(),
    };
    let denied = client(&server.url, &stranger)
        .lookup(&t, "mine", None, &[], NONE)
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::Unauthenticated);

    let other = client(&server.url, &server.token_for("other"));
    let hidden = other.lookup(&t, "mine", None, &[], NONE).await;
    assert_eq!(hidden.unwrap_err().code(), Code::NotFound);

    let env = c.lookup(&t, "mine", Some("nowhere"), &[], NONE).await;
    assert_eq!(env.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn a_closed_port_is_a_connection_error_after_four_attempts() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let token = Token {
        id: "ak-1".into(),
        secret: "as-1".into(),
    };
    let c = client(&format!("http://127.0.0.1:{port}"), &token);
    let started = Instant::now();
    let error = c.lookup(&Native::new(), "db", None, &[], NONE).await;
    assert!(matches!(error, Err(Error::Connection(_))), "{error:?}");
    // 0.1 + 0.2 + 0.4 s of waits between the four attempts.
    assert!(started.elapsed() >= Duration::from_millis(700));
}
