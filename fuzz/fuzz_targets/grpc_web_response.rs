//! Any HTTP answer (status, headers, body, trailers) through the gRPC-web response decoder and the
//! plain gRPC one (HTTP/2 trailers), then the message decoders: typed errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::grpc_web::{self, HttpResponse, Limits};
use modal_secrets_core::proto;

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
    if let Ok(bytes) = decoded.outcome {
        let _ = grpc_web::decode_message::<proto::SecretGetOrCreateResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::SecretListResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::SecretGetInfoResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::ClientHelloResponse>(bytes);
    }
    for (_, value) in headers.iter().chain(&trailers) {
        let _ = grpc_web::retry_policy_from_details(value);
    }
});
