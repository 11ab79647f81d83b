//! The wasm-bindgen layer of the npm package: JS in, core call, JS out. No domain logic here; every
//! decision is made in `modal_secrets_core`.

mod dotenv;
mod error;

pub use dotenv::parse_dotenv;
