//! Any request to the local server's call handling (`modal_secrets_server::local_call_stack`: the
//! gRPC-web translation, authentication and the failed-authentication limit, the framing checks,
//! the strict protobuf decoder and every method's validation), in-process on a real store: an
//! answer every time, never a panic, and never a value or token secret in the answer.
//! The input format and the checks are in `server_common.rs`.
#![no_main]

#[path = "server_common.rs"]
mod server_common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modal_secrets_server::http::throttle::AuthLimit;
use modal_secrets_server::local_call_stack;
use server_common::World;

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        World::new(|_, _, store| (local_call_stack(store, AuthLimit::default()), Box::new(())))
    })
}

fuzz_target!(|input: &[u8]| world().run(input));
