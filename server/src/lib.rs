//! `modal-secrets-server`: a Modal-compatible secrets service on an embedded SQLite store, speaking
//! plain gRPC (h2c) and gRPC-web (HTTP/1.1 and HTTP/2) on one port; or, in gateway mode, a front
//! that forwards every call to an upstream instead.
//!
//! The message types are the core's (`modal_secrets_core::proto`). The folders say which mode a
//! file serves:
//! - `local/`: the local server only (the service, the store, authentication, idempotency, ids,
//!   sealing, the strict request decoder);
//! - `gateway/`: gateway mode only (forwarding to the upstream);
//! - `http/`: the HTTP front both modes share (listener and connection caps, client addresses,
//!   CORS, static files, the call layer, the failed-authentication limit);
//! - at the top, what the whole crate shares: `server.rs` (starting either mode: the stack of
//!   layers and the listener), `clock.rs` (the one wall clock), `limits.rs` (every limit, in one
//!   table), `log.rs`; and `main.rs`, the command.

pub mod clock;
pub mod gateway;
pub mod http;
pub mod limits;
pub mod local;
pub mod log;
pub mod server;

/// The generated `modal.client.ModalClient` server and client (the client is for tests and tools).
pub mod pb {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("modal.client");
}

pub use server::{
    CallStack, Config, Mode, Running, StartError, gateway_call_stack, local_call_stack, start,
};
