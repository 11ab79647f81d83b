//! The client's logic against a scripted transport: the one place a failure must be injected (a
//! server that answers UNAVAILABLE on cue, a connection that drops, a clock that runs). The same
//! operations run against the real server in server/tests/core_client.rs and tests/node/.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use prost::Message;

use super::*;
use crate::config::{ConfigOptions, resolve};
use crate::error::Code;
use crate::proto::{
    CreationInfo, RpcRetryPolicy, RpcStatus, SecretGetOrCreateResponse, SecretListItem,
    SecretListResponse, SecretMetadata,
};
use crate::{grpc_web, proto};

/// Runs a future whose every await is ready at once (the scripted transport never waits).
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("the future did not complete");
}

enum Step {
    Answer(Response),
    Fail(Error),
    /// The answer takes this long (the fake clock advances), then arrives unless past the timeout.
    Slow(Duration, Response),
}

/// One request as sent: URL, headers, body, timeout.
type Sent = (
    String,
    Vec<(&'static str, String)>,
    Vec<u8>,
    Option<Duration>,
);

#[derive(Default)]
struct Script {
    steps: RefCell<VecDeque<Step>>,
    sent: RefCell<Vec<Sent>>,
    slept: RefCell<Vec<Duration>>,
    clock: Cell<Duration>,
    warnings: RefCell<Vec<String>>,
    abort_sleep: Cell<bool>,
}

impl Script {
    fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: RefCell::new(steps.into_iter().collect()),
            ..Default::default()
        }
    }

    fn header(&self, attempt: usize, name: &str) -> Option<String> {
        let sent = self.sent.borrow();
        sent[attempt]
            .1
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

impl Transport for Script {
    async fn post(&self, request: Request<'_>) -> Result<Response, Error> {
        self.sent.borrow_mut().push((
            request.url.to_owned(),
            request.headers.0.clone(),
            request.body.to_vec(),
            request.timeout,
        ));
        match self
            .steps
            .borrow_mut()
            .pop_front()
            .expect("an unscripted request")
        {
            Step::Answer(r) => Ok(r),
            Step::Fail(e) => Err(e),
            Step::Slow(took, r) => match request.timeout {
                Some(limit) if took >= limit => {
                    self.clock.set(self.clock.get() + limit);
                    Err(Error::Timeout(limit))
                }
                _ => {
                    self.clock.set(self.clock.get() + took);
                    Ok(r)
                }
            },
        }
    }

    async fn sleep(&self, wait: Duration) -> Result<(), Error> {
        if self.abort_sleep.get() {
            return Err(Error::Cancelled);
        }
        self.slept.borrow_mut().push(wait);
        self.clock.set(self.clock.get() + wait);
        Ok(())
    }

    fn now(&self) -> Duration {
        self.clock.get()
    }

    fn random_bytes(&self) -> [u8; 16] {
        [7; 16]
    }

    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.to_owned());
    }
}

fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn ok(message: &impl Message) -> Response {
    let mut body = frame(0, &message.encode_to_vec());
    body.extend(frame(0x80, b"grpc-status: 0\r\n"));
    Response {
        status: 200,
        headers: vec![("content-type".into(), grpc_web::CONTENT_TYPE.into())],
        body,
        trailers: Vec::new(),
    }
}

fn status(code: i32, message: &str) -> Response {
    let trailers = format!("grpc-status: {code}\r\ngrpc-message: {message}\r\n");
    Response {
        status: 200,
        headers: vec![("content-type".into(), grpc_web::CONTENT_TYPE.into())],
        body: frame(0x80, trailers.as_bytes()),
        trailers: Vec::new(),
    }
}

fn throttled(code: i32, secs: f32) -> Response {
    let policy = RpcRetryPolicy {
        retry_after_secs: secs,
    };
    let details = RpcStatus {
        code,
        message: "slow down".into(),
        details: vec![prost_types::Any {
            type_url: crate::proto::RPC_RETRY_POLICY_TYPE_URL.into(),
            value: policy.encode_to_vec(),
        }],
    };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(details.encode_to_vec());
    let trailers =
        format!("grpc-status: {code}\r\ngrpc-message: slow\r\ngrpc-status-details-bin: {b64}\r\n");
    Response {
        status: 200,
        headers: vec![("content-type".into(), grpc_web::CONTENT_TYPE.into())],
        body: frame(0x80, trailers.as_bytes()),
        trailers: Vec::new(),
    }
}

fn found(id: &str, name: &str, keys: &[&str]) -> Response {
    ok(&SecretGetOrCreateResponse {
        secret_id: id.into(),
        metadata: Some(SecretMetadata {
            name: name.into(),
            creation_info: Some(CreationInfo {
                created_at: 1_700_000_000.5,
                created_by: "alice".into(),
            }),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            environment_name: "main".into(),
            last_used_at: 0.0,
            template_type: String::new(),
        }),
    })
}

fn client() -> Client {
    client_with(Tuning::default())
}

fn client_with(tuning: Tuning) -> Client {
    let options = ConfigOptions {
        server_url: Some("http://127.0.0.1:8787/base".into()),
        token_id: Some("ak-1".into()),
        token_secret: Some(Redacted::new("as-topsecret".into())),
        ..Default::default()
    };
    let config = resolve(&options, &Default::default(), None).unwrap();
    Client::new(&config, tuning).unwrap()
}

fn opts() -> CallOptions {
    CallOptions::default()
}

#[test]
fn a_lookup_sends_the_request_and_headers_of_wire_md_and_reads_the_record() {
    let t = Script::new([Step::Answer(found("st-1", "db", &["B", "A"]))]);
    let record = run(client().lookup(&t, "db", None, &["A".into()], opts())).unwrap();
    assert_eq!(record.id, "st-1");
    assert_eq!(record.name.as_deref(), Some("db"));
    assert_eq!(record.keys, ["A", "B"]);
    assert_eq!(record.created_at, 1_700_000_000.5);
    assert_eq!(record.created_by.as_deref(), Some("alice"));
    assert_eq!(record.last_used_at, None);

    let sent = t.sent.borrow();
    assert_eq!(sent.len(), 1);
    let (url, headers, body, timeout) = &sent[0];
    assert_eq!(
        url,
        "http://127.0.0.1:8787/base/modal.client.ModalClient/SecretGetOrCreate"
    );
    assert_eq!(*timeout, None);
    // 5-byte frame header, then `0a 02 "db" 3a 01 "A"` (name, required_keys).
    assert_eq!(body[..5], [0, 0, 0, 0, 7]);
    assert_eq!(&body[5..], b"\x0a\x02db\x3a\x01A");
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "content-type",
            "x-modal-token-id",
            "x-modal-token-secret",
            "x-modal-client-type",
            "x-modal-client-version",
            "x-modal-host",
            "x-idempotency-key",
            "x-retry-attempt"
        ]
    );
    drop(sent);
    assert_eq!(t.header(0, "x-modal-host").unwrap(), "127.0.0.1:8787");
    assert_eq!(t.header(0, "x-modal-client-type").unwrap(), "8");
    assert_eq!(t.header(0, "x-modal-token-secret").unwrap(), "as-topsecret");
    assert_eq!(
        t.header(0, "x-idempotency-key").unwrap(),
        "07070707-0707-4707-8707-070707070707"
    );
}

#[test]
fn transient_statuses_are_retried_three_times_with_doubling_waits_and_one_idempotency_key() {
    for code in [1, 2, 4, 13, 14] {
        let t = Script::new((0..4).map(|_| Step::Answer(status(code, "down"))));
        let error = run(client().lookup(&t, "db", None, &[], opts())).unwrap_err();
        assert_eq!(error.code().number(), code);
        assert_eq!(
            *t.slept.borrow(),
            [100, 200, 400].map(Duration::from_millis),
            "status {code}"
        );
        assert_eq!(t.sent.borrow().len(), 4);
        let key = t.header(0, "x-idempotency-key");
        for attempt in 0..4 {
            assert_eq!(t.header(attempt, "x-idempotency-key"), key);
            assert_eq!(
                t.header(attempt, "x-retry-attempt").unwrap(),
                attempt.to_string()
            );
        }
        assert_eq!(t.header(0, "x-retry-delay"), None);
        assert_eq!(t.header(1, "x-retry-delay").unwrap(), "0.100");
        assert_eq!(t.header(3, "x-retry-delay").unwrap(), "0.700");
    }
}

#[test]
fn a_retry_that_succeeds_returns_the_answer() {
    let t = Script::new([
        Step::Fail(Error::Connection("refused".into())),
        Step::Answer(status(14, "down")),
        Step::Answer(found("st-9", "db", &[])),
    ]);
    let record = run(client().lookup(&t, "db", None, &[], opts())).unwrap();
    assert_eq!(record.id, "st-9");
    assert_eq!(t.sent.borrow().len(), 3);
}

#[test]
fn permanent_statuses_are_not_retried() {
    for code in [3, 5, 6, 7, 9, 10, 11, 12, 15, 16] {
        let t = Script::new([Step::Answer(status(code, "no"))]);
        let error = run(client().lookup(&t, "db", None, &[], opts())).unwrap_err();
        assert_eq!(error.code().number(), code);
        assert_eq!(error.to_string(), "no");
        assert!(t.slept.borrow().is_empty());
    }
}

#[test]
fn a_refused_connection_becomes_a_connection_error_after_the_retries() {
    let t = Script::new((0..4).map(|_| Step::Fail(Error::Connection("ECONNREFUSED".into()))));
    let error = run(client().lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert!(matches!(error, Error::Connection(_)), "{error:?}");
    assert_eq!(t.sent.borrow().len(), 4);
}

#[test]
fn max_retries_sets_the_number_of_retries() {
    let tuning = Tuning {
        max_retries: Some(0),
        ..Default::default()
    };
    let t = Script::new([Step::Answer(status(14, "down"))]);
    run(client_with(tuning).lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert_eq!(t.sent.borrow().len(), 1);
    let too_many = Tuning {
        max_retries: Some(MAX_RETRIES + 1),
        ..Default::default()
    };
    let config = resolve(
        &ConfigOptions {
            token_id: Some("ak-1".into()),
            token_secret: Some(Redacted::new("as-1".into())),
            ..Default::default()
        },
        &Default::default(),
        None,
    )
    .unwrap();
    assert!(Client::new(&config, too_many).is_err());
}

#[test]
fn a_throttle_is_waited_out_without_counting_as_a_retry() {
    let mut steps: Vec<Step> = (0..5).map(|_| Step::Answer(throttled(8, 0.25))).collect();
    steps.push(Step::Answer(throttled(14, 0.01)));
    steps.push(Step::Answer(found("st-1", "db", &[])));
    let t = Script::new(steps);
    run(client().lookup(&t, "db", None, &[], opts())).unwrap();
    let mut want = vec![Duration::from_millis(250); 5];
    want.push(Duration::from_millis(100)); // at least 0.1 s
    assert_eq!(*t.slept.borrow(), want);
    // Throttle waits are not retries: every attempt says 0.
    assert_eq!(t.header(6, "x-retry-attempt").unwrap(), "0");
}

#[test]
fn a_throttle_stops_at_max_throttle_wait() {
    let options = ConfigOptions {
        token_id: Some("ak-1".into()),
        token_secret: Some(Redacted::new("as-1".into())),
        max_throttle_wait: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let config = resolve(&options, &Default::default(), None).unwrap();
    let client = Client::new(&config, Tuning::default()).unwrap();
    let t = Script::new((0..10).map(|_| Step::Answer(throttled(8, 0.3))));
    let error = run(client.lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert_eq!(error.code(), Code::ResourceExhausted);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(300)));
    assert_eq!(*t.slept.borrow(), vec![Duration::from_millis(300); 3]);
}

#[test]
fn a_slow_answer_past_the_timeout_is_a_timeout_error_and_not_retried() {
    let tuning = Tuning {
        timeout: Some(Duration::from_millis(500)),
        ..Default::default()
    };
    let t = Script::new([Step::Slow(Duration::from_secs(2), found("st-1", "db", &[]))]);
    let error = run(client_with(tuning).lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert_eq!(error, Error::Timeout(Duration::from_millis(500)));
    assert_eq!(t.sent.borrow()[0].3, Some(Duration::from_millis(500)));
    assert_eq!(t.sent.borrow().len(), 1);
}

#[test]
fn the_timeout_covers_retries_and_a_call_can_override_it() {
    let t = Script::new([
        Step::Slow(Duration::from_millis(300), status(14, "down")),
        Step::Slow(Duration::from_millis(250), status(14, "down")),
    ]);
    let call = CallOptions {
        timeout: Some(Duration::from_millis(700)),
    };
    let error = run(client().lookup(&t, "db", None, &[], call)).unwrap_err();
    // 300 + 100 wait + 250 = 650; the next wait (200) would cross 700, so the last error stands.
    assert_eq!(error.code(), Code::Unavailable);
    let sent = t.sent.borrow();
    assert_eq!(sent[0].3, Some(Duration::from_millis(700)));
    assert_eq!(sent[1].3, Some(Duration::from_millis(300)));
}

#[test]
fn an_abort_is_not_retried_even_between_attempts() {
    let t = Script::new([Step::Fail(Error::Cancelled)]);
    assert_eq!(
        run(client().lookup(&t, "db", None, &[], opts())).unwrap_err(),
        Error::Cancelled
    );
    let t = Script::new([Step::Answer(status(14, "down"))]);
    t.abort_sleep.set(true);
    assert_eq!(
        run(client().lookup(&t, "db", None, &[], opts())).unwrap_err(),
        Error::Cancelled
    );
    assert_eq!(t.sent.borrow().len(), 1);
}

#[test]
fn bad_arguments_fail_before_any_request() {
    let t = Script::new([]);
    let c = client();
    let dict = EnvDict::new([("A".to_owned(), "1".to_owned())]).unwrap();
    let errors = [
        run(c.lookup(&t, "bad name", None, &[], opts())).unwrap_err(),
        run(c.lookup(&t, "db", Some("-env"), &[], opts())).unwrap_err(),
        run(c.lookup(&t, "db", None, &["1KEY".into()], opts())).unwrap_err(),
        run(c.create(&t, &"x".repeat(65), &dict, false, None, opts())).unwrap_err(),
        run(c.delete(&t, "", false, None, opts())).unwrap_err(),
        run(c.update(
            &t,
            "st-1",
            &[Update {
                key: "A-B".into(),
                value: None,
            }],
            opts(),
        ))
        .unwrap_err(),
        run(c.lookup(
            &t,
            "db",
            None,
            &[],
            CallOptions {
                timeout: Some(Duration::ZERO),
            },
        ))
        .unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    }
    assert!(t.sent.borrow().is_empty());
}

#[test]
fn a_request_over_4_mib_is_refused_before_it_is_sent() {
    let t = Script::new([]);
    let big = EnvDict::new([("A".to_owned(), "x".repeat(MAX_REQUEST_BYTES))]).unwrap();
    let error = run(client().create(&t, "db", &big, false, None, opts())).unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.to_string().contains("4 MiB"), "{error}");
    assert!(!error.to_string().contains("xxxx"));
    assert!(t.sent.borrow().is_empty());
}

#[test]
fn create_sends_the_creation_type_and_values() {
    let dict = EnvDict::new([("A".to_owned(), "1".to_owned())]).unwrap();
    for (allow, creation_type) in [(false, 2), (true, 1)] {
        let t = Script::new([Step::Answer(found("st-1", "foo", &["A"]))]);
        run(client().create(&t, "foo", &dict, allow, Some("dev"), opts())).unwrap();
        let body = &t.sent.borrow()[0].2;
        let request = proto::SecretGetOrCreateRequest::decode(&body[5..]).unwrap();
        assert_eq!(request.deployment_name, "foo");
        assert_eq!(request.environment_name, "dev");
        assert_eq!(request.object_creation_type, creation_type);
        assert_eq!(request.env_dict.get("A").map(String::as_str), Some("1"));
    }
}

#[test]
fn an_ephemeral_secret_is_type_5_and_keeps_its_keys_when_the_server_sends_no_metadata() {
    let dict = EnvDict::new([
        ("B".to_owned(), "2".to_owned()),
        ("A".to_owned(), "1".to_owned()),
    ])
    .unwrap();
    let t = Script::new([Step::Answer(ok(&SecretGetOrCreateResponse {
        secret_id: "st-e".into(),
        metadata: None,
    }))]);
    let record = run(client().hydrate(&t, &Source::Dict(dict), opts())).unwrap();
    assert_eq!(record.id, "st-e");
    assert_eq!(record.name, None);
    assert_eq!(record.keys, ["A", "B"]);
    let request = proto::SecretGetOrCreateRequest::decode(&t.sent.borrow()[0].2[5..]).unwrap();
    assert_eq!(request.object_creation_type, 5);
    assert_eq!(request.deployment_name, "");
}

#[test]
fn delete_looks_up_then_deletes_by_id_and_allow_missing_swallows_only_not_found() {
    let t = Script::new([
        Step::Answer(found("st-7", "db", &[])),
        Step::Answer(ok(&())),
    ]);
    assert!(run(client().delete(&t, "db", false, None, opts())).unwrap());
    let sent = t.sent.borrow();
    assert!(sent[1].0.ends_with("/SecretDelete"));
    assert_eq!(&sent[1].2[5..], b"\x0a\x04st-7");
    drop(sent);

    let t = Script::new([Step::Answer(status(5, "missing"))]);
    assert!(!run(client().delete(&t, "db", true, None, opts())).unwrap());
    let t = Script::new([Step::Answer(status(5, "missing"))]);
    assert_eq!(
        run(client().delete(&t, "db", false, None, opts()))
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let t = Script::new([Step::Answer(status(16, "who"))]);
    assert_eq!(
        run(client().delete(&t, "db", true, None, opts()))
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
}

#[test]
fn update_sends_sets_and_removals_and_apply_tracks_the_keys() {
    let t = Script::new([Step::Answer(ok(&()))]);
    let updates = [
        Update {
            key: "NEW".into(),
            value: Some(Redacted::new("v".into())),
        },
        Update {
            key: "OLD".into(),
            value: None,
        },
    ];
    run(client().update(&t, "st-1", &updates, opts())).unwrap();
    let request = proto::SecretUpdateRequest::decode(&t.sent.borrow()[0].2[5..]).unwrap();
    assert_eq!(request.updates.len(), 2);
    assert_eq!(request.updates[0].value.as_deref(), Some("v"));
    assert_eq!(request.updates[1].value, None);

    let mut record = SecretRecord::from_metadata(
        "st-1".into(),
        crate::protobuf::SecretMetadata {
            keys: vec!["OLD".into(), "KEEP".into()],
            ..Default::default()
        },
    );
    record.apply(&updates);
    assert_eq!(record.keys, ["KEEP", "NEW"]);
}

#[test]
fn warnings_reach_the_transport() {
    let mut answer = found("st-1", "db", &[]);
    answer
        .headers
        .push(("x-modal-warning".into(), "client%20is%20old".into()));
    let t = Script::new([Step::Answer(answer)]);
    run(client().lookup(&t, "db", None, &[], opts())).unwrap();
    assert_eq!(*t.warnings.borrow(), ["client is old"]);
}

fn item(id: usize, created_at: f64) -> SecretListItem {
    SecretListItem {
        label: format!("s{id}"),
        secret_id: format!("st-{id}"),
        metadata: Some(SecretMetadata {
            name: format!("s{id}"),
            creation_info: Some(CreationInfo {
                created_at,
                created_by: String::new(),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn page(range: std::ops::Range<usize>) -> Response {
    ok(&SecretListResponse {
        items: range.map(|i| item(i, 10_000.0 - i as f64)).collect(),
        environment_name: "main".into(),
    })
}

fn list_all(listing: &mut Listing, t: &Script) -> Result<Vec<SecretRecord>, Error> {
    let c = client();
    let mut all = Vec::new();
    while let Some(request) = listing.next_request() {
        let records = run(c.list_page(t, &request, opts()))?;
        all.extend(listing.accept(&request, records)?);
    }
    Ok(all)
}

#[test]
fn a_listing_pages_by_100_with_the_created_at_cursor() {
    let t = Script::new([Step::Answer(page(0..100)), Step::Answer(page(100..150))]);
    let mut listing = Listing::new(None, None, None).unwrap();
    let all = list_all(&mut listing, &t).unwrap();
    assert_eq!(all.len(), 150);
    assert_eq!(all[149].id, "st-149");
    let sent = t.sent.borrow();
    let second = proto::SecretListRequest::decode(&sent[1].2[5..]).unwrap();
    let pagination = second.pagination.unwrap();
    assert_eq!(pagination.max_objects, 100);
    assert_eq!(pagination.created_before, 10_000.0 - 99.0);
}

#[test]
fn a_listing_stops_at_max_objects_and_asks_only_for_what_is_left() {
    let t = Script::new([Step::Answer(page(0..100)), Step::Answer(page(100..130))]);
    let mut listing = Listing::new(Some("dev"), Some(130), Some(20_000.0)).unwrap();
    let all = list_all(&mut listing, &t).unwrap();
    assert_eq!(all.len(), 130);
    let sent = t.sent.borrow();
    assert_eq!(sent.len(), 2);
    let first = proto::SecretListRequest::decode(&sent[0].2[5..]).unwrap();
    assert_eq!(first.environment_name, "dev");
    assert_eq!(first.pagination.unwrap().created_before, 20_000.0);
    let second = proto::SecretListRequest::decode(&sent[1].2[5..]).unwrap();
    assert_eq!(second.pagination.unwrap().max_objects, 30);

    // A server sending more than asked is cut to the limit.
    let t = Script::new([Step::Answer(page(0..50))]);
    let mut listing = Listing::new(None, Some(5), None).unwrap();
    assert_eq!(list_all(&mut listing, &t).unwrap().len(), 5);
    // max_objects 0 asks nothing.
    let listing = Listing::new(None, Some(0), None).unwrap();
    assert_eq!(listing.next_request(), None);
}

#[test]
fn a_server_that_does_not_move_the_cursor_cannot_make_a_listing_loop() {
    let same = ok(&SecretListResponse {
        items: (0..100).map(|i| item(i, 5.0)).collect(),
        environment_name: String::new(),
    });
    let t = Script::new([Step::Answer(same.clone()), Step::Answer(same)]);
    let mut listing = Listing::new(None, None, None).unwrap();
    let error = list_all(&mut listing, &t).unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert!(listing.is_done());
    assert!(Listing::new(None, None, Some(f64::NAN)).is_err());
    assert!(Listing::new(None, None, Some(-1.0)).is_err());
}

#[test]
fn an_answer_without_a_secret_id_is_malformed() {
    let t = Script::new([Step::Answer(ok(&SecretGetOrCreateResponse::default()))]);
    let error = run(client().lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert!(matches!(error, Error::Malformed(_)), "{error:?}");
}

#[test]
fn the_client_debug_shows_no_token_secret() {
    let text = format!("{:?}", client());
    assert!(!text.contains("topsecret"), "{text}");
    assert!(text.contains("ak-1"));
}

#[test]
fn uuids_are_version_4() {
    let id = uuid_v4([0xff; 16]);
    assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
}

// --- plain gRPC (the HTTP/2 transport) ---

fn grpc_client() -> Client {
    client_with(Tuning {
        protocol: grpc_web::Protocol::Grpc,
        ..Default::default()
    })
}

/// `response` as plain gRPC: application/grpc, the trailer frame's lines as HTTP/2 trailers.
fn as_grpc(response: Response) -> Response {
    let announced = u32::from_be_bytes(response.body[1..5].try_into().unwrap()) as usize;
    let (data, trailer_frame) = if response.body[0] == 0x80 {
        (Vec::new(), &response.body[..])
    } else {
        (
            response.body[..5 + announced].to_vec(),
            &response.body[5 + announced..],
        )
    };
    let text = std::str::from_utf8(&trailer_frame[5..]).unwrap();
    let trailers = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Response {
        status: 200,
        headers: vec![("content-type".into(), "application/grpc".into())],
        body: data,
        trailers,
    }
}

#[test]
fn the_protocol_is_chosen_from_the_options_and_the_runtime() {
    use grpc_web::Protocol::{Grpc, GrpcWeb};
    assert_eq!(choose_protocol(None, false, true), Ok(Grpc));
    assert_eq!(choose_protocol(None, false, false), Ok(GrpcWeb));
    assert_eq!(choose_protocol(None, true, true), Ok(GrpcWeb));
    assert_eq!(choose_protocol(Some("fetch"), false, true), Ok(GrpcWeb));
    assert_eq!(choose_protocol(Some("fetch"), true, false), Ok(GrpcWeb));
    assert_eq!(choose_protocol(Some("http2"), false, true), Ok(Grpc));
    for (transport, fetch, http2, says) in [
        ("http2", true, true, "options.fetch"),
        ("http2", false, false, "needs node:http2"),
        ("grpc", false, true, "got \"grpc\""),
        ("", false, true, "got \"\""),
    ] {
        let error = choose_protocol(Some(transport), fetch, http2).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Invalid);
        assert!(error.to_string().contains(says), "{error}");
    }
}

#[test]
fn over_grpc_a_call_sends_te_trailers_and_reads_the_status_from_the_trailers() {
    let t = Script::new([
        Step::Answer(as_grpc(status(14, "down"))),
        Step::Answer(as_grpc(found("st-1", "db", &["A"]))),
    ]);
    let record = run(grpc_client().lookup(&t, "db", None, &[], opts())).unwrap();
    assert_eq!(record.keys, ["A"]);
    assert_eq!(t.slept.borrow().as_slice(), [Duration::from_millis(100)]);
    assert_eq!(
        t.header(0, "content-type").as_deref(),
        Some("application/grpc")
    );
    assert_eq!(t.header(1, "te").as_deref(), Some("trailers"));
    assert_eq!(t.header(1, "x-retry-attempt").as_deref(), Some("1"));

    // A gRPC-web answer to a gRPC client is malformed, not half-read.
    let t = Script::new([Step::Answer(found("st-1", "db", &["A"]))]);
    let error = run(grpc_client().lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert!(
        error.to_string().contains("not application/grpc"),
        "{error}"
    );
}

#[test]
fn a_short_page_cut_for_its_size_does_not_end_a_listing() {
    let big = |range: std::ops::Range<usize>| {
        let items = range.map(|i| {
            let mut it = item(i, 10_000.0 - i as f64);
            it.metadata.as_mut().unwrap().keys = vec!["K".repeat(100); 130];
            it
        });
        ok(&SecretListResponse {
            items: items.collect(),
            environment_name: "main".into(),
        })
    };
    // 90 secrets of ~13 KB: a page of ~1.2 MB (over half the budget), short of the 100 asked,
    // then the last 20.
    let t = Script::new([Step::Answer(big(0..90)), Step::Answer(big(90..110))]);
    let mut listing = Listing::new(None, None, None).unwrap();
    let all = list_all(&mut listing, &t).unwrap();
    assert_eq!(all.len(), 110);
    assert_eq!(t.sent.borrow().len(), 2);
    // A small short page still ends it, with one request.
    let t = Script::new([Step::Answer(page(0..90))]);
    let mut listing = Listing::new(None, None, None).unwrap();
    assert_eq!(list_all(&mut listing, &t).unwrap().len(), 90);
}

#[test]
fn server_text_never_repeats_the_token_secret_or_a_value_sent() {
    let echo = |message: &str, warning: &str| Response {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/grpc-web+proto".into()),
            ("grpc-status".into(), "7".into()),
            ("grpc-message".into(), message.into()),
            ("x-modal-warning".into(), warning.into()),
        ],
        body: Vec::new(),
        trailers: Vec::new(),
    };
    let c = client();
    let t = Script::new([Step::Answer(echo(
        "token as-topsecret, value swordfish-1, short v=ab",
        "saw%20swordfish-1",
    ))]);
    let values =
        EnvDict::new([("A", "swordfish-1"), ("B", "ab")].map(|(k, v)| (k.into(), v.into())))
            .unwrap();
    let error = run(c.create(&t, "db", &values, false, None, opts())).unwrap_err();
    let text = error.to_string();
    assert_eq!(text, "token ***, value ***, short v=***");
    assert_eq!(t.warnings.borrow().as_slice(), ["saw ***"]);

    // Updates: the values set are hidden; the kept parts of the message stay.
    let t = Script::new([Step::Answer(echo("no: hunter22 for K", ""))]);
    let updates = vec![Update {
        key: "K".into(),
        value: Some(Redacted::new("hunter22".into())),
    }];
    let error = run(c.update(&t, "st-1", &updates, opts())).unwrap_err();
    assert_eq!(error.to_string(), "no: *** for K");

    // A content type that echoes the token is hidden too.
    let t = Script::new([Step::Answer(Response {
        status: 200,
        headers: vec![("content-type".into(), "text/as-topsecret".into())],
        body: Vec::new(),
        trailers: Vec::new(),
    })]);
    let error = run(c.lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert!(!error.to_string().contains("topsecret"), "{error}");
    // And to a gRPC client (its own message for a wrong content type).
    let t = Script::new([Step::Answer(Response {
        status: 200,
        headers: vec![("content-type".into(), "text/as-topsecret".into())],
        ..Response::default()
    })]);
    let error = run(grpc_client().lookup(&t, "db", None, &[], opts())).unwrap_err();
    assert!(
        error.to_string().contains("not application/grpc"),
        "{error}"
    );
    assert!(!error.to_string().contains("topsecret"), "{error}");
}
