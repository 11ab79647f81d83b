//! Any HTTP answer (status, headers, body) through the gRPC-web response decoder, then the message
//! decoders: typed errors only, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::grpc_web::{self, HttpResponse, Limits};
use modal_secrets_core::proto;

fuzz_target!(|input: (u16, bool, Vec<(String, String)>, Vec<u8>)| {
    let (status, grpc_content_type, mut headers, body) = input;
    if grpc_content_type {
        // Most interesting inputs have the right content type; let the fuzzer reach the frames.
        headers.insert(0, ("content-type".into(), grpc_web::CONTENT_TYPE.into()));
    }
    let response = HttpResponse {
        status: if status % 4 == 0 { status } else { 200 },
        headers: &headers,
        body: &body,
    };
    let limits = Limits {
        max_frame_bytes: 1 << 16,
    };
    let decoded = grpc_web::decode_response(&response, limits);
    if let Ok(bytes) = decoded.outcome {
        let _ = grpc_web::decode_message::<proto::SecretGetOrCreateResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::SecretListResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::SecretGetInfoResponse>(bytes);
        let _ = grpc_web::decode_message::<proto::ClientHelloResponse>(bytes);
    }
    for (_, value) in &headers {
        let _ = grpc_web::retry_policy_from_details(value);
    }
});
