//! Any HTTP answer (status, headers, body, trailers) through the gRPC-web response decoder and the
//! plain gRPC one (HTTP/2 trailers), then the client's message decoders (`protobuf`): typed errors
//! only, never a panic, and the same acceptance as prost's, their oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::grpc_web::{self, HttpResponse, Limits};
use modal_secrets_core::{proto, protobuf};
use prost::Message;

type Input = (
    u16,
    bool,
    bool,
    Vec<(String, String)>,
    Vec<u8>,
    Vec<(String, String)>,
);

fuzz_target!(|input: Input| {
    let (status, grpc_content_type, plain_grpc, mut headers, body, trailers) = input;
    if grpc_content_type {
        // Most interesting inputs have the right content type; let the fuzzer reach the frames.
        let content_type = if plain_grpc {
            grpc_web::GRPC_CONTENT_TYPE
        } else {
            grpc_web::CONTENT_TYPE
        };
        headers.insert(0, ("content-type".into(), content_type.into()));
    }
    let response = HttpResponse {
        status: if status % 4 == 0 { status } else { 200 },
        headers: &headers,
        body: &body,
    };
    let limits = Limits {
        max_frame_bytes: 1 << 16,
    };
    let decoded = if plain_grpc {
        grpc_web::decode_grpc_response(&response, &trailers, limits)
    } else {
        grpc_web::decode_response(&response, limits)
    };
    // The message decoders on the answer's message, or on the body itself when the answer is
    // refused (so the fuzzer reaches them without building frames).
    let bytes = decoded.outcome.unwrap_or(&body);
    assert_eq!(
        protobuf::secret_get_or_create_response(bytes).is_ok(),
        proto::SecretGetOrCreateResponse::decode(bytes).is_ok()
    );
    assert_eq!(
        protobuf::secret_list_response(bytes).is_ok(),
        proto::SecretListResponse::decode(bytes).is_ok()
    );
    assert_eq!(
        protobuf::secret_get_info_response(bytes).is_ok(),
        proto::SecretGetInfoResponse::decode(bytes).is_ok()
    );
    for (_, value) in headers.iter().chain(&trailers) {
        let _ = grpc_web::retry_policy_from_details(value);
    }
});
