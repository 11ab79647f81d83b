//! The pure-Rust core of modal-secrets: Modal's wire messages, the gRPC-web codec, validation,
//! dotenv, config and the retry policy. No JS, no I/O: everything here is tested natively.

pub mod client;
pub mod config;
pub mod dotenv;
pub mod error;
pub mod grpc_web;
#[cfg(any(test, feature = "messages"))]
pub mod proto;
pub mod protobuf;
pub mod redact;
pub mod retry;
pub mod sync_plan;
pub mod validate;
pub mod vars;

pub use error::{Code, Error, ErrorKind, Malformed};
pub use redact::Redacted;
