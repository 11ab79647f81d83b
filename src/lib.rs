//! The wasm-bindgen layer of the npm package: JS in, core call, JS out. No domain logic here; every
//! decision is made in `modal_secrets_core`. The public JS classes (`Client`, `Secret`) are thin
//! wrappers in src/js/api.js around the `*Core` classes exported here.

mod args;
mod client;
mod dotenv;
mod error;
mod host;
mod secret;
mod sync;

pub use client::{ClientCore, config_path};
pub use dotenv::parse_dotenv;
pub use secret::{ListingCore, SecretCore, create_secret, delete_secret};
pub use sync::plan_sync;
