//! Fuzzes the .env parser: any text, any environment, must parse without a panic, and every key must
//! come from the text. Input: the .env text, then optionally a NUL byte and `NAME=value` lines for the
//! environment used by `${NAME}` interpolation.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::dotenv::parse;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (text, env_lines) = input.split_once('\0').unwrap_or((&input, ""));
    let env: BTreeMap<String, String> = env_lines
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    for (key, _) in parse(text, &env) {
        assert!(
            !key.is_empty() && text.contains(&key),
            "key {key:?} not in the text"
        );
    }
});
