//! Any request to a gateway's call handling (`modal_secrets_server::gateway_call_stack`: the
//! gRPC-web translation, the failed-authentication limit, the body limit, the method-name check,
//! the header filtering, `grpc-timeout` parsing, forwarding, and turning the upstream's answer
//! back into gRPC or gRPC-web), in-process, forwarding over loopback to a real local server on a
//! real store: an answer every time, never a panic, never a value or token secret in the answer.
//! The input format and the checks are in `server_common.rs`.
#![no_main]

#[path = "server_common.rs"]
mod server_common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use modal_secrets_server::http::throttle::AuthLimit;
use modal_secrets_server::{Config, gateway_call_stack};
use server_common::World;

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        World::new(|runtime, dir, store| {
            // The upstream opens the store itself.
            drop(store);
            runtime.block_on(async {
                let upstream = modal_secrets_server::start(Config {
                    // The upstream's own limit off: what is refused is the gateway's doing.
                    auth_limit: AuthLimit {
                        max_failures: 0,
                        ..AuthLimit::default()
                    },
                    ..Config::new("127.0.0.1:0", dir.join("data"))
                })
                .await
                .expect("the upstream starts");
                let stack = gateway_call_stack(&upstream.url(), AuthLimit::default())
                    .expect("the gateway's stack");
                (stack, Box::new(upstream) as Box<_>)
            })
        })
    })
}

fuzz_target!(|input: &[u8]| world().run(input));
