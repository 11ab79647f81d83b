//! Generates the prost message types from the project's `.proto` (needs `protoc`; scripts/setup.sh
//! installs it, or set PROTOC).
fn main() {
    let proto = "../proto/modal_secrets.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    // BTreeMap: a map encodes in sorted key order, so the same env_dict always gives the same bytes.
    config.btree_map(["."]);
    if let Err(e) = config.compile_protos(&[proto], &["../proto"]) {
        panic!("compiling {proto} failed (is protoc installed? scripts/setup.sh installs it): {e}");
    }
}
