//! The wasm-bindgen layer of the npm package: JS in, core call, JS out. No domain logic here; every
//! decision is made in `modal_secrets_core`. The public JS classes (`Client`, `Secret`) are thin
//! wrappers in src/js/api.js around the `*Handle` classes exported here; every format that crosses
//! between the two sides is src/abi.rs's (and src/js/abi.js's).

mod abi;
mod args;
mod client;
mod dotenv;
mod operation;
mod secret;
#[cfg(feature = "files")]
mod sync_plan;

pub use client::ClientHandle;
#[cfg(feature = "files")]
pub use client::config_path;
#[cfg(feature = "files")]
pub use dotenv::dotenv_filename;
pub use dotenv::parse_dotenv;
pub use operation::OperationHandle;
pub use secret::{
    ListingHandle, create_secret, delete_secret, dict_target, dotenv_target, local_environ_target,
    name_target, secret_op,
};
#[cfg(feature = "files")]
pub use sync_plan::plan_sync;

/// The allocator of the .wasm (single-threaded; it grows the memory as it needs): talc, smaller than
/// std's dlmalloc (Cargo.toml says by how much).
#[cfg(all(not(target_feature = "atomics"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
