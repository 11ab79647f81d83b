//! Any request to a gateway's call handling (`modal_secrets_server::gateway_call_stack`: the
//! gRPC-web translation, the failed-authentication limit, the body limit, the method-name check,
//! the header filtering, `grpc-timeout` parsing, forwarding, and turning the upstream's answer
//! back into gRPC or gRPC-web), in-process, forwarding over loopback to a real local server on a
//! real store: an answer every time, never a panic, never a value or token secret in the answer.
//! The input format is in `server_common.rs`.
#![no_main]

#[path = "server_common.rs"]
mod server_common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modal_secrets_server::throttle::AuthLimit;
use modal_secrets_server::{CallStack, Config, Running, gateway_call_stack};
use server_common::{PLANTED_VALUE, answer, assert_none_in, planted_store, request};

struct World {
    runtime: tokio::runtime::Runtime,
    stack: CallStack,
    token_id: String,
    token_secret: String,
    _upstream: Running,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (dir, store, token_id, token_secret) = planted_store();
        drop(store);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (upstream, stack) = runtime.block_on(async {
            let upstream = modal_secrets_server::start(Config {
                // The upstream's own limit off: what is refused is the gateway's doing.
                auth_limit: AuthLimit {
                    max_failures: 0,
                    ..AuthLimit::default()
                },
                ..Config::new("127.0.0.1:0", dir.path().join("data"))
            })
            .await
            .expect("the upstream starts");
            let stack = gateway_call_stack(&upstream.url(), AuthLimit::default())
                .expect("the gateway's stack");
            (upstream, stack)
        });
        World {
            runtime,
            stack,
            token_id,
            token_secret,
            _upstream: upstream,
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
