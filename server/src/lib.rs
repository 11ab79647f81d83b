//! `modal-secrets-server`: a Modal-compatible secrets service on an embedded SQLite store, speaking
//! plain gRPC (h2c) and gRPC-web (HTTP/1.1 and HTTP/2) on one port.
//!
//! The message types are the core's (`modal_secrets_core::proto`); this crate adds the service, the
//! store, authentication and the HTTP plumbing (CORS, gRPC-web, one log line per call), and the
//! gateway mode that forwards every call to an upstream instead (`gateway`).

pub mod auth;
pub mod call_layer;
pub mod codec;
pub mod cors;
pub mod gateway;
pub mod idempotency;
pub mod ids;
pub mod jwt;
pub mod limits;
pub mod log;
pub mod net;
pub mod sealing;
pub mod server;
pub mod service;
pub mod static_files;
pub mod store;
pub mod throttle;

/// The generated `modal.client.ModalClient` server and client (the client is for tests and tools).
pub mod pb {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("modal.client");
}

pub use server::{
    CallStack, Config, Mode, Running, StartError, gateway_call_stack, local_call_stack, start,
};
