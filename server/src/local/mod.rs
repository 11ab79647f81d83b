//! The local server (`serve` without `--upstream`): the `modal.client.ModalClient` service over an
//! embedded SQLite store, and what only it needs: authentication of tokens and JWTs, idempotency
//! keys, ids and credentials, values sealed at rest, and the strict request decoder.

pub mod auth;
pub mod codec;
pub mod idempotency;
pub mod ids;
pub mod jwt;
pub mod sealing;
pub mod service;
pub mod store;
