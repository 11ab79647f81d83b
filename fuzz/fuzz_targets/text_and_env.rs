//! The input of the `config` and `dotenv` targets: a text, then optionally a NUL byte and
//! `NAME=value` lines for the environment (`MODAL_*` variables, or `${NAME}` interpolation).

use modal_secrets_core::vars::Vars;

/// The text and the environment of one input (invalid UTF-8 replaced, as the host's reading would).
pub fn split(data: &[u8]) -> (String, Vars) {
    let input = String::from_utf8_lossy(data);
    let (text, env_lines) = input.split_once('\0').unwrap_or((&input, ""));
    let env = env_lines
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    (text.to_owned(), env)
}
