//! Plain gRPC answers (HTTP/2, the status in trailers): [`decode_grpc_response`] and the request
//! headers of [`Protocol::Grpc`]. The property tests hold it to the gRPC-web decoder: the same
//! message and status, carried either way, read the same.
use super::tests::status_of;
use super::*;
use crate::ErrorKind;
use crate::proto::{
    RPC_RETRY_POLICY_TYPE_URL, RpcRetryPolicy, RpcStatus, SecretGetInfoResponse, SecretMetadata,
};
use proptest::prelude::*;
use prost::Message;

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn grpc_headers() -> Vec<(String, String)> {
    pairs(&[("content-type", GRPC_CONTENT_TYPE)])
}

fn decode<'a>(
    status: u16,
    headers: &'a [(String, String)],
    body: &'a [u8],
    trailers: &[(String, String)],
) -> Decoded<'a> {
    decode_grpc_response(
        &HttpResponse {
            status,
            headers,
            body,
        },
        trailers,
        Limits::default(),
    )
}

fn ok_trailers() -> Vec<(String, String)> {
    pairs(&[("grpc-status", "0"), ("grpc-message", "")])
}

fn malformed(decoded: Decoded<'_>) -> Malformed {
    match decoded.outcome {
        Err(Error::Malformed(m)) => m,
        other => panic!("expected a malformed-response error, got {other:?}"),
    }
}

fn details_with_retry_policy(secs: f32) -> String {
    use base64::Engine as _;
    let policy = RpcRetryPolicy {
        retry_after_secs: secs,
    };
    let status = RpcStatus {
        code: 8,
        message: "slow down".into(),
        details: vec![prost_types::Any {
            type_url: RPC_RETRY_POLICY_TYPE_URL.into(),
            value: policy.encode_to_vec(),
        }],
    };
    base64::engine::general_purpose::STANDARD.encode(status.encode_to_vec())
}

#[test]
fn grpc_request_headers_say_application_grpc_and_te_trailers() {
    let secret = crate::Redacted::new("as-topsecret".to_owned());
    let meta = CallMeta {
        token_id: "ak-123",
        token_secret: &secret,
        client_type: 8,
        client_version: "1.0.0",
        host: "api.modal.com",
        idempotency_key: "k",
        attempt: 1,
        since_first: Duration::from_millis(100),
    };
    let grpc = request_headers_for(Protocol::Grpc, &meta);
    let web = request_headers_for(Protocol::GrpcWeb, &meta);
    assert_eq!(grpc.0[0], ("content-type", "application/grpc".to_owned()));
    assert_eq!(grpc.0[1], ("te", "trailers".to_owned()));
    assert_eq!(web, request_headers(&meta));
    assert_eq!(web.0[0], ("content-type", CONTENT_TYPE.to_owned()));
    // Everything else is the same, in the same order.
    assert_eq!(grpc.0[2..], web.0[1..]);
    assert!(!format!("{grpc:?}").contains("topsecret"));
}

#[test]
fn success_gives_the_message_and_warnings_of_headers_and_trailers() {
    let msg = SecretGetInfoResponse {
        metadata: Some(SecretMetadata {
            name: "db".into(),
            keys: vec!["URL".into()],
            ..Default::default()
        }),
    };
    let body = frame(0, &msg.encode_to_vec());
    let mut headers = grpc_headers();
    headers.push(("x-modal-warning".into(), "from%20headers".into()));
    let mut trailers = ok_trailers();
    trailers.push(("X-Modal-Warning".into(), "from%20trailers".into()));
    let decoded = decode(200, &headers, &body, &trailers);
    let bytes = decoded.outcome.clone().unwrap();
    assert_eq!(SecretGetInfoResponse::decode(bytes).unwrap(), msg);
    assert_eq!(decoded.warnings, ["from headers", "from trailers"]);
}

#[test]
fn content_type_variants() {
    for ct in [
        "application/grpc",
        "application/grpc+proto",
        "Application/GRPC; charset=utf-8",
    ] {
        let headers = pairs(&[("content-type", ct)]);
        let body = frame(0, b"");
        assert!(
            decode(200, &headers, &body, &ok_trailers()).outcome.is_ok(),
            "{ct}"
        );
    }
    for ct in [
        "application/grpc-web+proto",
        "application/grpc-web",
        "text/html",
        "",
    ] {
        let headers = pairs(&[("content-type", ct)]);
        let body = frame(0, b"");
        assert_eq!(
            malformed(decode(200, &headers, &body, &ok_trailers())),
            Malformed::NotGrpcContentType(crate::validate::quote(ct)),
            "{ct}"
        );
    }
}

#[test]
fn the_status_in_trailers_with_a_percent_encoded_message_and_retry_policy() {
    let details = details_with_retry_policy(1.5);
    let trailers = pairs(&[
        ("grpc-status", "8"),
        ("grpc-message", "slow%20down%3A%20100%25"),
        ("grpc-status-details-bin", &details),
    ]);
    let headers = grpc_headers();
    let (code, message, retry) = status_of(decode(200, &headers, b"", &trailers));
    assert_eq!(code, Code::ResourceExhausted);
    assert_eq!(message, "slow down: 100%");
    assert_eq!(retry, Some(Duration::from_millis(1500)));
}

#[test]
fn a_trailers_only_answer_carries_its_status_in_the_headers() {
    let headers = pairs(&[
        ("content-type", "application/grpc"),
        ("grpc-status", "5"),
        ("grpc-message", "Secret%20%27x%27%20not%20found"),
    ]);
    let (code, message, _) = status_of(decode(200, &headers, b"", &[]));
    assert_eq!(
        (code, message.as_str()),
        (Code::NotFound, "Secret 'x' not found")
    );
    // An OK status with nothing else is a missing message.
    let headers = pairs(&[("content-type", "application/grpc"), ("grpc-status", "0")]);
    assert_eq!(
        malformed(decode(200, &headers, b"", &[])),
        Malformed::MissingMessage
    );
}

#[test]
fn an_error_status_ignores_data_frames() {
    let headers = grpc_headers();
    let body = frame(0, b"\x0a\x01x");
    let trailers = pairs(&[("grpc-status", "6"), ("grpc-message", "exists")]);
    let (code, message, _) = status_of(decode(200, &headers, &body, &trailers));
    assert_eq!((code, message.as_str()), (Code::AlreadyExists, "exists"));
}

#[test]
fn missing_or_unreadable_trailers_are_malformed() {
    let headers = grpc_headers();
    let body = frame(0, b"");
    assert_eq!(
        malformed(decode(200, &headers, &body, &[])),
        Malformed::MissingStatus
    );
    let trailers = pairs(&[("grpc-status", "zero")]);
    assert_eq!(
        malformed(decode(200, &headers, &body, &trailers)),
        Malformed::BadStatus("\"zero\"".into())
    );
}

#[test]
fn a_trailer_frame_in_the_body_is_not_grpc() {
    // What a gRPC-web server sends: refused rather than half-read.
    let headers = grpc_headers();
    let mut body = frame(0, b"");
    body.extend(frame(0x80, b"grpc-status: 0\r\n"));
    assert_eq!(
        malformed(decode(200, &headers, &body, &ok_trailers())),
        Malformed::UnknownFrameFlags(0x80)
    );
}

#[test]
fn frames_are_checked_as_for_grpc_web() {
    let headers = grpc_headers();
    let cases: [(Vec<u8>, Malformed); 5] = [
        (vec![0, 0, 0], Malformed::TruncatedFrameHeader(3)),
        (
            vec![0, 0, 0, 0, 9, 1],
            Malformed::TruncatedFrame {
                announced: 9,
                available: 1,
            },
        ),
        (frame(1, b"x"), Malformed::Compressed),
        (frame(2, b"x"), Malformed::UnknownFrameFlags(2)),
        (
            [frame(0, b""), frame(0, b"")].concat(),
            Malformed::TooManyMessages(2),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            malformed(decode(200, &headers, &body, &ok_trailers())),
            expected
        );
    }
    let huge = [0, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        malformed(decode(200, &headers, &huge, &ok_trailers())),
        Malformed::FrameTooLarge { .. }
    ));
    assert_eq!(
        malformed(decode(200, &headers, b"", &ok_trailers())),
        Malformed::MissingMessage
    );
}

#[test]
fn http_statuses_without_grpc_status_map_as_grpc_says() {
    let headers = pairs(&[("content-type", "text/html")]);
    for (http, code) in [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
        (500, Code::Unknown),
    ] {
        let (got, message, _) = status_of(decode(http, &headers, b"<html/>", &[]));
        assert_eq!(got, code, "{http}");
        assert!(message.contains(&format!("HTTP {http}")), "{message}");
        assert!(!message.contains("does not answer gRPC-web"), "{message}");
    }
    let (_, message, _) = status_of(decode(404, &headers, b"", &[]));
    assert!(message.contains("transport: \"fetch\""), "{message}");
}

#[test]
fn a_redirect_is_the_same_refusal_as_for_grpc_web() {
    for status in [301, 302, 303, 307, 308] {
        let headers = pairs(&[("location", "https://login.example.com/x?token=1")]);
        let grpc = decode(status, &headers, b"", &[]).outcome.unwrap_err();
        let web = decode_response(
            &HttpResponse {
                status,
                headers: &headers,
                body: b"",
            },
            Limits::default(),
        )
        .outcome
        .unwrap_err();
        assert_eq!(grpc, web);
        assert!(matches!(grpc, Error::Redirect { .. }), "{grpc:?}");
        assert!(!grpc.retryable());
    }
}

#[test]
fn statuses_in_trailers_map_to_their_kinds() {
    let headers = grpc_headers();
    for number in 1..=16 {
        let trailers = pairs(&[("grpc-status", &number.to_string())]);
        let error = decode(200, &headers, b"", &trailers).outcome.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::for_code(Code::from_i32(number)));
    }
}

/// The same answer as a gRPC-web body: the message frame, then the trailers as a trailer frame.
fn as_grpc_web(body: &[u8], trailers: &[(String, String)]) -> Vec<u8> {
    let text: String = trailers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    [body.to_vec(), frame(0x80, text.as_bytes())].concat()
}

proptest! {
    #[test]
    fn never_panics_on_any_answer(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        status in prop_oneof![Just(200u16), any::<u16>()],
        header_status in proptest::option::of(".{0,8}"),
        trailers in proptest::collection::vec(
            (prop_oneof![Just("grpc-status".to_owned()), Just("grpc-message".to_owned()),
                Just("grpc-status-details-bin".to_owned()), Just("x-modal-warning".to_owned()),
                ".{0,12}"], ".{0,64}"),
            0..6),
    ) {
        let mut headers = grpc_headers();
        if let Some(s) = header_status { headers.push(("grpc-status".into(), s)); }
        let decoded = decode(status, &headers, &body, &trailers);
        if let Ok(bytes) = decoded.outcome {
            let _ = crate::protobuf::secret_get_info_response(bytes);
        }
    }

    #[test]
    fn reads_as_the_grpc_web_decoder_reads_the_same_answer(
        message in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        code in 0i32..20,
        text in "[a-zA-Z0-9 %]{0,20}",
        warning in proptest::option::of("[a-z%0-9]{0,12}"),
    ) {
        // HTTP/2 field values have no surrounding whitespace (RFC 9113, 8.2.1).
        let text = text.trim();
        let body = message.as_deref().map(|m| frame(0, m)).unwrap_or_default();
        let mut trailers = pairs(&[("grpc-status", &code.to_string()), ("grpc-message", text)]);
        if let Some(w) = warning { trailers.push(("x-modal-warning".into(), w)); }
        let grpc_headers = grpc_headers();
        let grpc = decode(200, &grpc_headers, &body, &trailers);
        let web_headers = pairs(&[("content-type", CONTENT_TYPE)]);
        let web_body = as_grpc_web(&body, &trailers);
        let web = decode_response(
            &HttpResponse { status: 200, headers: &web_headers, body: &web_body },
            Limits::default(),
        );
        prop_assert_eq!(grpc, web);
    }
}
