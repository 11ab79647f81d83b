//! Fuzzes the .env parser: any text, any environment, must parse without a panic, and every key must
//! come from the text. Input: the .env text, then optionally a NUL byte and `NAME=value` lines for the
//! environment used by `${NAME}` interpolation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::dotenv::parse;

#[path = "text_and_env.rs"]
mod text_and_env;

fuzz_target!(|data: &[u8]| {
    let (text, env) = text_and_env::split(data);
    let text = text.as_str();
    for (key, _) in parse(text, &env) {
        assert!(
            !key.is_empty() && text.contains(&key),
            "key {key:?} not in the text"
        );
    }
});
