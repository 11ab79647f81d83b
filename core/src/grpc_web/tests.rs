use super::*;
use crate::ErrorKind;
use crate::proto::{RPC_RETRY_POLICY_TYPE_URL, RpcRetryPolicy, RpcStatus};
use crate::proto::{SecretGetInfoResponse, SecretMetadata};
use base64::Engine as _;
use proptest::prelude::*;
use prost::Message;

fn frame(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn trailer(text: &str) -> Vec<u8> {
    frame(0x80, text.as_bytes())
}

fn grpc_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), CONTENT_TYPE.into())]
}

fn with(mut headers: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    headers.push((name.into(), value.into()));
    headers
}

fn decode<'a>(status: u16, headers: &'a [(String, String)], body: &'a [u8]) -> Decoded<'a> {
    decode_response(
        &HttpResponse {
            status,
            headers,
            body,
        },
        Limits::default(),
    )
}

fn ok_body(message: &[u8]) -> Vec<u8> {
    let mut body = frame(0, message);
    body.extend(trailer("grpc-status: 0\r\ngrpc-message: \r\n"));
    body
}

fn malformed(status: u16, headers: &[(String, String)], body: &[u8]) -> Malformed {
    match decode(status, headers, body).outcome {
        Err(Error::Malformed(m)) => m,
        other => panic!("expected a malformed-response error, got {other:?}"),
    }
}

/// The status error a decoded answer holds (also used by grpc_tests.rs).
pub(super) fn status_of(decoded: Decoded<'_>) -> (Code, String, Option<Duration>) {
    match decoded.outcome {
        Err(Error::Status {
            code,
            message,
            retry_after,
        }) => (code, message, retry_after),
        other => panic!("expected a status error, got {other:?}"),
    }
}

fn details_with_retry_policy(secs: f32, padded: bool) -> String {
    let policy = RpcRetryPolicy {
        retry_after_secs: secs,
    };
    let status = RpcStatus {
        code: 8,
        message: "slow down".into(),
        details: vec![
            prost_types::Any {
                type_url: "type.modal.com/modal.client.SomethingElse".into(),
                value: vec![1, 2, 3],
            },
            prost_types::Any {
                type_url: RPC_RETRY_POLICY_TYPE_URL.into(),
                value: policy.encode_to_vec(),
            },
        ],
    };
    let bytes = status.encode_to_vec();
    if padded {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    } else {
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    }
}

// --- requests ---

#[test]
fn request_is_one_uncompressed_frame() {
    let msg = SecretMetadata {
        name: "foo".into(),
        ..Default::default()
    };
    let body = encode_request(&msg).unwrap();
    assert_eq!(body, [0, 0, 0, 0, 5, 0x0a, 3, b'f', b'o', b'o']);
    let empty = encode_request(&()).unwrap();
    assert_eq!(empty, [0, 0, 0, 0, 0]);
}

#[test]
fn request_headers_follow_wire_md_and_hide_the_secret() {
    let secret = Redacted::new("as-topsecret".to_owned());
    let mut meta = CallMeta {
        token_id: "ak-123",
        token_secret: &secret,
        client_type: 8,
        client_version: "0.1.0",
        host: "127.0.0.1:8787",
        idempotency_key: "6f1c-key",
        attempt: 0,
        since_first: Duration::ZERO,
    };
    let first = request_headers(&meta);
    let names: Vec<_> = first.0.iter().map(|(n, _)| *n).collect();
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
    assert!(
        first
            .0
            .contains(&("x-modal-token-secret", "as-topsecret".into()))
    );
    assert!(first.0.contains(&("x-modal-client-type", "8".into())));
    let shown = format!("{first:?}");
    assert!(!shown.contains("topsecret"), "{shown}");
    assert!(shown.contains("ak-123"), "{shown}");

    meta.attempt = 2;
    meta.since_first = Duration::from_millis(312);
    let retry = request_headers(&meta);
    assert!(retry.0.contains(&("x-retry-attempt", "2".into())));
    assert!(retry.0.contains(&("x-retry-delay", "0.312".into())));
    assert!(retry.0.contains(&("x-idempotency-key", "6f1c-key".into())));
}

#[test]
fn method_paths() {
    assert_eq!(
        method_path("SecretList"),
        "/modal.client.ModalClient/SecretList"
    );
}

// --- successful responses ---

#[test]
fn success_gives_the_message_and_warnings() {
    let msg = SecretGetInfoResponse {
        metadata: Some(SecretMetadata {
            name: "db".into(),
            keys: vec!["URL".into()],
            ..Default::default()
        }),
    };
    let mut body = frame(0, &msg.encode_to_vec());
    body.extend(trailer(
        "grpc-status:0\r\ngrpc-message:\r\nx-modal-warning: trailer%20warning\r\n",
    ));
    let headers = with(
        grpc_headers(),
        "X-Modal-Warning",
        "header%20warning%20%E2%9C%93",
    );
    let decoded = decode(200, &headers, &body);
    let bytes = decoded.outcome.clone().unwrap();
    assert_eq!(SecretGetInfoResponse::decode(bytes).unwrap(), msg);
    assert_eq!(decoded.warnings, ["header warning ✓", "trailer warning"]);
}

#[test]
fn content_type_variants_accepted() {
    for ct in [
        "application/grpc-web",
        "application/grpc-web+proto",
        "Application/GRPC-Web+Proto; charset=utf-8",
    ] {
        let headers = vec![("content-type".to_owned(), ct.to_owned())];
        assert!(decode(200, &headers, &ok_body(b"")).outcome.is_ok(), "{ct}");
    }
}

#[test]
fn empty_message_is_fine() {
    let headers = grpc_headers();
    let body = ok_body(b"");
    let decoded = decode(200, &headers, &body);
    assert_eq!(decoded.outcome, Ok(&b""[..]));
}

#[test]
fn bare_lf_trailers_are_accepted() {
    let mut body = frame(0, b"");
    body.extend(trailer("grpc-status: 0\n"));
    let headers = grpc_headers();
    assert!(decode(200, &headers, &body).outcome.is_ok());
}

// --- errors the server reports ---

#[test]
fn trailer_error_with_percent_encoded_message() {
    let headers = grpc_headers();
    let body = trailer(
        "grpc-status: 5\r\ngrpc-message: Secret%20%27foo%27%20not%20found%3A%20100%25%zz\r\n",
    );
    let (code, message, retry) = status_of(decode(200, &headers, &body));
    assert_eq!(code, Code::NotFound);
    // A broken escape (%zz) is kept as it is.
    assert_eq!(message, "Secret 'foo' not found: 100%%zz");
    assert_eq!(retry, None);
}

#[test]
fn trailer_error_ignores_data_frames() {
    let headers = grpc_headers();
    let mut body = frame(0, b"\x0a\x01x");
    body.extend(trailer("grpc-status: 6\r\ngrpc-message: exists\r\n"));
    let (code, message, _) = status_of(decode(200, &headers, &body));
    assert_eq!((code, message.as_str()), (Code::AlreadyExists, "exists"));
}

#[test]
fn trailers_only_error_in_headers() {
    let headers = with(
        with(grpc_headers(), "grpc-status", "16"),
        "grpc-message",
        "Invalid%20token",
    );
    let decoded = decode(200, &headers, b"");
    let error = decoded.outcome.clone().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth);
    assert_eq!(error.to_string(), "Invalid token");
}

#[test]
fn trailers_only_even_with_odd_http_status_or_content_type() {
    // Some proxies answer trailers-only with a non-200 status or no content type; grpc-status wins.
    let headers = vec![
        ("grpc-status".to_owned(), "7".to_owned()),
        ("content-type".to_owned(), "text/plain".to_owned()),
    ];
    let (code, _, _) = status_of(decode(403, &headers, b"<html>denied</html>"));
    assert_eq!(code, Code::PermissionDenied);
}

#[test]
fn details_with_retry_policy_in_trailers_and_headers() {
    for padded in [true, false] {
        let details = details_with_retry_policy(2.5, padded);
        let text = format!(
            "grpc-status: 8\r\ngrpc-message: slow\r\ngrpc-status-details-bin: {details}\r\n"
        );
        let headers = grpc_headers();
        let body = trailer(&text);
        let (code, _, retry) = status_of(decode(200, &headers, &body));
        assert_eq!(code, Code::ResourceExhausted);
        assert_eq!(retry, Some(Duration::from_millis(2500)));

        let headers = with(
            with(grpc_headers(), "grpc-status", "14"),
            "grpc-status-details-bin",
            &details,
        );
        let (code, _, retry) = status_of(decode(200, &headers, b""));
        assert_eq!(code, Code::Unavailable);
        assert_eq!(retry, Some(Duration::from_millis(2500)));
    }
}

#[test]
fn unreadable_details_leave_the_status_standing() {
    for details in ["!!!not base64!!!", "AAAA", "", "CAgSBHNsb3c"] {
        let headers = with(
            with(grpc_headers(), "grpc-status", "8"),
            "grpc-status-details-bin",
            details,
        );
        let (code, _, retry) = status_of(decode(200, &headers, b""));
        assert_eq!((code, retry), (Code::ResourceExhausted, None), "{details}");
    }
}

#[test]
fn every_status_number_in_a_trailer_maps_to_its_kind() {
    for number in 1..=16 {
        let headers = grpc_headers();
        let body = trailer(&format!("grpc-status: {number}\r\n"));
        let error = decode(200, &headers, &body).outcome.unwrap_err();
        let code = Code::from_i32(number);
        assert_eq!(error.code(), code);
        assert_eq!(error.kind(), ErrorKind::for_code(code));
        assert_eq!(error.retryable(), code.is_transient());
    }
    // A number gRPC does not define is UNKNOWN.
    let headers = grpc_headers();
    let body = trailer("grpc-status: 99\r\n");
    assert_eq!(
        decode(200, &headers, &body).outcome.unwrap_err().code(),
        Code::Unknown
    );
}

#[test]
fn http_errors_without_grpc_status_map_like_grpc() {
    let html = vec![("content-type".to_owned(), "text/html".to_owned())];
    for (http, code) in [
        (400, Code::Internal),
        (401, Code::Unauthenticated),
        (403, Code::PermissionDenied),
        (404, Code::Unimplemented),
        (429, Code::Unavailable),
        (500, Code::Unknown),
        (502, Code::Unavailable),
        (503, Code::Unavailable),
        (504, Code::Unavailable),
    ] {
        let (got, message, _) = status_of(decode(
            http,
            &html,
            b"<html><body>Bad Gateway</body></html>",
        ));
        assert_eq!(got, code, "HTTP {http}");
        assert!(message.contains(&format!("HTTP {http}")), "{message}");
        assert!(!message.contains("<html>"), "{message}");
    }
    let (_, message, _) = status_of(decode(404, &html, b""));
    assert!(message.contains("gateway"), "{message}");
}

// --- malformed responses: typed errors, never a panic ---

#[test]
fn malformed_responses_are_typed_errors() {
    let gw = grpc_headers();
    let limit = Limits::default().max_frame_bytes;
    let html = vec![(
        "content-type".to_owned(),
        "text/html; charset=utf-8".to_owned(),
    )];
    let none: Vec<(String, String)> = vec![];
    let ct = |v: &str| vec![("content-type".to_owned(), v.to_owned())];
    let ok_trailer = trailer("grpc-status: 0\r\n");
    type Case = (&'static str, Vec<(String, String)>, Vec<u8>, Malformed);
    let cases: Vec<Case> = vec![
        ("empty body", gw.clone(), vec![], Malformed::MissingStatus),
        (
            "3-byte frame header",
            gw.clone(),
            vec![0, 0, 0],
            Malformed::TruncatedFrameHeader(3),
        ),
        (
            "1-byte body",
            gw.clone(),
            vec![0x80],
            Malformed::TruncatedFrameHeader(1),
        ),
        (
            "truncated data frame",
            gw.clone(),
            vec![0, 0, 0, 0, 10, 1, 2, 3],
            Malformed::TruncatedFrame {
                announced: 10,
                available: 3,
            },
        ),
        (
            "truncated trailer frame",
            gw.clone(),
            [&[0x80, 0, 0, 0, 40][..], b"grpc-status: 0"].concat(),
            Malformed::TruncatedFrame {
                announced: 40,
                available: 14,
            },
        ),
        (
            "length 0xffffffff",
            gw.clone(),
            vec![0, 0xff, 0xff, 0xff, 0xff],
            Malformed::FrameTooLarge {
                announced: u32::MAX,
                limit,
            },
        ),
        (
            "length just over the limit",
            gw.clone(),
            [&[0u8][..], &(limit as u32 + 1).to_be_bytes()[..]].concat(),
            Malformed::FrameTooLarge {
                announced: limit as u32 + 1,
                limit,
            },
        ),
        (
            "compressed data frame",
            gw.clone(),
            frame(0x01, b"x"),
            Malformed::Compressed,
        ),
        (
            "compressed trailers",
            gw.clone(),
            frame(0x81, b"x"),
            Malformed::Compressed,
        ),
        (
            "unknown flags",
            gw.clone(),
            frame(0x02, b"x"),
            Malformed::UnknownFrameFlags(0x02),
        ),
        (
            "unknown trailer flags",
            gw.clone(),
            frame(0xc0, b"x"),
            Malformed::UnknownFrameFlags(0xc0),
        ),
        (
            "data after trailers",
            gw.clone(),
            [ok_trailer.clone(), frame(0, b"")].concat(),
            Malformed::DataAfterTrailers,
        ),
        (
            "no trailer frame",
            gw.clone(),
            frame(0, b"\x0a\x01x"),
            Malformed::MissingStatus,
        ),
        (
            "trailer without grpc-status",
            gw.clone(),
            [frame(0, b""), trailer("grpc-message: hi\r\n")].concat(),
            Malformed::MissingStatus,
        ),
        (
            "empty trailer frame",
            gw.clone(),
            trailer(""),
            Malformed::MissingStatus,
        ),
        (
            "trailer with bad UTF-8",
            gw.clone(),
            frame(0x80, b"grpc-status: 0\r\nx-a: \xff\xfe\r\n"),
            Malformed::BadTrailers,
        ),
        (
            "trailer line without colon",
            gw.clone(),
            trailer("grpc-status 0\r\n"),
            Malformed::BadTrailers,
        ),
        (
            "trailer name with space",
            gw.clone(),
            trailer("grpc status: 0\r\n"),
            Malformed::BadTrailers,
        ),
        (
            "trailer with empty name",
            gw.clone(),
            trailer(": 0\r\n"),
            Malformed::BadTrailers,
        ),
        (
            "non-numeric status",
            gw.clone(),
            trailer("grpc-status: abc\r\n"),
            Malformed::BadStatus("\"abc\"".into()),
        ),
        (
            "empty status",
            gw.clone(),
            trailer("grpc-status:\r\n"),
            Malformed::BadStatus("\"\"".into()),
        ),
        (
            "status out of i32 range",
            gw.clone(),
            trailer("grpc-status: 99999999999\r\n"),
            Malformed::BadStatus("\"99999999999\"".into()),
        ),
        (
            "non-numeric status in headers",
            with(gw.clone(), "grpc-status", "OK"),
            vec![],
            Malformed::BadStatus("\"OK\"".into()),
        ),
        (
            "OK without a message",
            gw.clone(),
            ok_trailer.clone(),
            Malformed::MissingMessage,
        ),
        (
            "trailers-only OK",
            with(gw.clone(), "grpc-status", "0"),
            vec![],
            Malformed::MissingMessage,
        ),
        (
            "two messages for a unary call",
            gw.clone(),
            [frame(0, b""), frame(0, b""), ok_trailer.clone()].concat(),
            Malformed::TooManyMessages(2),
        ),
        (
            "HTML page with 200",
            html.clone(),
            b"<!doctype html><html><body>Welcome to nginx</body></html>".to_vec(),
            Malformed::WrongContentType("\"text/html; charset=utf-8\"".into()),
        ),
        (
            "no content-type",
            none.clone(),
            ok_body(b""),
            Malformed::WrongContentType("\"\"".into()),
        ),
        (
            "grpc-web-text",
            ct("application/grpc-web-text"),
            ok_body(b""),
            Malformed::WrongContentType("\"application/grpc-web-text\"".into()),
        ),
        (
            "JSON",
            ct("application/json"),
            br#"{"error":"nope"}"#.to_vec(),
            Malformed::WrongContentType("\"application/json\"".into()),
        ),
        (
            "plain gRPC content type",
            ct("application/grpc"),
            ok_body(b""),
            Malformed::WrongContentType("\"application/grpc\"".into()),
        ),
    ];
    assert!(cases.len() >= 20);
    for (name, headers, body, expected) in cases {
        assert_eq!(malformed(200, &headers, &body), expected, "{name}");
    }
}

#[test]
fn a_small_limit_refuses_before_reading() {
    let headers = grpc_headers();
    let body = ok_body(&[0u8; 100]);
    let limits = Limits {
        max_frame_bytes: 99,
    };
    let decoded = decode_response(
        &HttpResponse {
            status: 200,
            headers: &headers,
            body: &body,
        },
        limits,
    );
    assert_eq!(
        decoded.outcome,
        Err(Error::Malformed(Malformed::FrameTooLarge {
            announced: 100,
            limit: 99
        }))
    );
}

#[test]
fn undecodable_messages_are_typed() {
    // Truncated varint, a wrong wire type, and invalid UTF-8 in a string field.
    for bytes in [
        &b"\x0a\xff"[..],
        b"\x0a\x05ab",
        b"\x0a\x02\xff\xfe",
        b"\x0b",
    ] {
        match crate::protobuf::secret_list_response(bytes) {
            Err(Error::Malformed(Malformed::BadMessage { message, .. })) => {
                assert_eq!(message, "SecretListResponse")
            }
            other => panic!("{bytes:?}: {other:?}"),
        }
    }
}

#[test]
fn error_messages_from_the_body_are_bounded() {
    let long_ct = "x".repeat(100_000);
    let headers = vec![("content-type".to_owned(), long_ct)];
    let err = decode(200, &headers, b"").outcome.unwrap_err();
    assert!(err.to_string().len() < 300);
}

proptest! {
    #[test]
    fn never_panics_on_any_body(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        status in prop_oneof![Just(200u16), any::<u16>()],
        grpc_status in proptest::option::of(".{0,8}"),
        details in proptest::option::of(".{0,64}"),
    ) {
        let mut headers = grpc_headers();
        if let Some(s) = grpc_status { headers.push(("grpc-status".into(), s)); }
        if let Some(d) = details { headers.push(("grpc-status-details-bin".into(), d)); }
        let decoded = decode(status, &headers, &body);
        if let Ok(bytes) = decoded.outcome {
            let _ = crate::protobuf::secret_get_info_response(bytes);
        }
    }

    #[test]
    fn never_panics_on_framed_garbage(
        frames in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64)), 0..4),
    ) {
        let body: Vec<u8> = frames.iter().flat_map(|(f, p)| frame(*f, p)).collect();
        let headers = grpc_headers();
        let _ = decode(200, &headers, &body);
    }

    #[test]
    fn encoded_messages_come_back(name in ".{0,40}", keys in proptest::collection::vec("[A-Z_]{1,12}", 0..8), created in any::<f64>()) {
        let msg = SecretGetInfoResponse { metadata: Some(SecretMetadata {
            name, keys,
            creation_info: Some(crate::proto::CreationInfo { created_at: created, created_by: "me".into() }),
            ..Default::default()
        })};
        let mut body = encode_request(&msg).unwrap();
        body.extend(trailer("grpc-status: 0\r\n"));
        let headers = grpc_headers();
        let bytes = decode(200, &headers, &body).outcome.unwrap();
        let back = SecretGetInfoResponse::decode(bytes).unwrap();
        // Compare encodings: NaN != NaN, but the bytes agree.
        prop_assert_eq!(back.encode_to_vec(), msg.encode_to_vec());
    }

    #[test]
    fn percent_decoding_is_the_percent_encoding_crates(
        parts in proptest::collection::vec(
            prop_oneof!["%[0-9a-fA-F]{2}", "%[0-9a-zA-Z%]{0,2}", "\\PC{0,3}", "%[89a-fA-F][0-9a-fA-F]"],
            0..12,
        ),
    ) {
        let text = parts.concat();
        let reference = percent_encoding::percent_decode_str(&text).decode_utf8_lossy();
        prop_assert_eq!(percent_decode(&text), reference.as_ref());
    }

    #[test]
    fn retry_after_survives_the_trip(secs in 0.0f32..10_000.0) {
        let details = details_with_retry_policy(secs, false);
        let got = retry_policy_from_details(&details).unwrap();
        prop_assert_eq!(got, retry_after_from_secs(secs));
    }
}

proptest::proptest! {
    #[test]
    fn base64_decoding_agrees_with_the_base64_crate(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        use base64::Engine;
        let padded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
        proptest::prop_assert_eq!(super::base64_decode(&padded), Some(bytes.clone()));
        proptest::prop_assert_eq!(super::base64_decode(&unpadded), Some(bytes));
    }

    #[test]
    fn base64_decoding_never_panics(text in "\\PC{0,64}") {
        let _ = super::base64_decode(&text);
    }
}

#[test]
fn base64_decoding_refuses_what_is_not_base64() {
    for bad in ["A", "AB=C", "A===", "ab!c", "AB\n", "AB-_", "AB==="] {
        assert_eq!(super::base64_decode(bad), None, "{bad:?}");
    }
}

#[test]
fn a_redirect_is_an_error_naming_its_status_and_origin_never_its_path() {
    for status in [300, 301, 302, 303, 307, 308, 399] {
        let headers = vec![(
            "Location".to_owned(),
            "https://user:pw@login.example.com:8443/sign-in?token=as-x#f".to_owned(),
        )];
        let error = decode(status, &headers, b"").outcome.unwrap_err();
        assert_eq!(
            error,
            Error::Redirect {
                status,
                to: Some("\"https://login.example.com:8443\"".into())
            }
        );
        assert_eq!(error.kind(), ErrorKind::Connection);
        assert!(!error.retryable());
        let text = error.to_string();
        assert!(text.contains(&format!("HTTP {status}")), "{text}");
        assert!(text.contains("https://login.example.com:8443"), "{text}");
        for hidden in ["sign-in", "token=", "as-x", "user", "pw@"] {
            assert!(!text.contains(hidden), "{text}");
        }
    }
    // A redirect wins over a gRPC status in its headers: it is never read as an answer.
    let headers = with(grpc_headers(), "grpc-status", "0");
    assert!(matches!(
        decode(302, &headers, b"").outcome,
        Err(Error::Redirect {
            status: 302,
            to: None
        })
    ));
    // The opaque redirect a browser's fetch gives (status 0) hides where it goes.
    let error = decode(0, &[], b"").outcome.unwrap_err();
    assert!(error.to_string().contains("hides its target"), "{error}");
}

#[test]
fn a_redirect_target_is_said_as_an_origin() {
    let cases = [
        ("HTTP://Evil.example/x", "\"http://Evil.example\""),
        ("//cdn.example:99/p?q", "\"//cdn.example:99\""),
        ("/login", "another path of the same server"),
        ("login?next=/", "another path of the same server"),
        ("", "another path of the same server"),
        ("https://a@b@host.example\\x", "\"https://host.example\""),
        (
            "https://host\u{7}.example/",
            "\"https://host\\u{7}.example\"",
        ),
    ];
    for (location, said) in cases {
        assert_eq!(redirect_target(location), said, "{location:?}");
    }
    let long = format!("https://{}/", "a".repeat(5000));
    assert!(redirect_target(&long).len() < 300);
}
