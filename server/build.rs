//! Generates the `modal.client.ModalClient` server (and, for tests, client) from the project's
//! `.proto`. The message types are not generated here: they are the core's (`extern_path`), so the
//! server and the package share one definition of every message.
fn main() {
    let proto = "../proto/modal_secrets.proto";
    println!("cargo:rerun-if-changed={proto}");
    let result = tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Bad request bytes are INVALID_ARGUMENT, not INTERNAL (see src/local/codec.rs).
        .codec_path("crate::local::codec::Codec")
        .extern_path(".modal.client", "::modal_secrets_core::proto")
        .compile_protos(&[proto], &["../proto"]);
    if let Err(e) = result {
        panic!("compiling {proto} failed (is protoc installed? scripts/setup.sh installs it): {e}");
    }
}
