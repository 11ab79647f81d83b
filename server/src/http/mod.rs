//! The HTTP front that both modes share (the local server and the gateway): the listener and its
//! connection caps (`net`), who the client is behind trusted proxies (`client_addr`), CORS, static
//! files, the call layer around every gRPC call (body limits, authentication in local mode, the
//! log line) and the failed-authentication limit (`throttle`).
//!
//! The call layer is the one place here that knows the local mode: it holds the local server's
//! `Auth` (`local/auth.rs`), or none in gateway mode, whose upstream authenticates.

pub mod call_layer;
pub mod client_addr;
pub mod cors;
pub mod net;
pub mod static_files;
pub mod throttle;
