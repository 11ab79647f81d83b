//! Any request to the local server's call handling (`modal_secrets_server::local_call_stack`: the
//! gRPC-web translation, authentication and the failed-authentication limit, the framing checks,
//! the strict protobuf decoder and every method's validation), in-process on a real store: an
//! answer every time, never a panic, and never a value or token secret in the answer.
//! The input format is in `server_common.rs`.
#![no_main]

#[path = "server_common.rs"]
mod server_common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modal_secrets_server::throttle::AuthLimit;
use modal_secrets_server::{CallStack, local_call_stack};
use server_common::{PLANTED_VALUE, answer, assert_none_in, planted_store, request};

struct World {
    runtime: tokio::runtime::Runtime,
    stack: CallStack,
    token_id: String,
    token_secret: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (dir, store, token_id, token_secret) = planted_store();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        World {
            runtime,
            stack: local_call_stack(store, AuthLimit::default()),
            token_id,
            token_secret,
            _dir: dir,
        }
    })
}

fuzz_target!(|input: &[u8]| {
    let w = world();
    let Some(request) = request(input, (&w.token_id, &w.token_secret)) else {
        return;
    };
    let seen = w.runtime.block_on(answer(w.stack.clone(), request));
    assert_none_in(&seen, &[PLANTED_VALUE, &w.token_secret], input);
});
