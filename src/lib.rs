//! The wasm-bindgen layer of the npm package: JS in, core call, JS out. No domain logic here; every
//! decision is made in `modal_secrets_core`. The public JS classes (`Client`, `Secret`) are thin
//! wrappers in src/js/api.js around the `*Core` classes exported here.

mod args;
mod client;
mod dotenv;
mod error;
mod json;
mod operation;
mod secret;
mod sync_plan;

pub use client::{ClientCore, config_path};
pub use dotenv::parse_dotenv;
pub use operation::OpCore;
pub use secret::{
    ListingCore, create_secret, delete_secret, dict_target, dotenv_target, local_environ_target,
    name_target, secret_op,
};
pub use sync_plan::plan_sync;
