//! Fuzzes config resolution: any config file and any `MODAL_*` variables must give a config or a
//! typed error, never a panic; a resolved config holds only checked values; and no message or
//! `Debug` output quotes a token secret planted in the file. Input: the file's text, then
//! optionally a NUL byte and `NAME=value` lines for the environment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modal_secrets_core::config::{ConfigOptions, resolve};

#[path = "text_and_env.rs"]
mod text_and_env;

const MARKER: &str = "Fz9qMarker";

fuzz_target!(|data: &[u8]| {
    let (text, env) = text_and_env::split(data);
    let text = text.as_str();
    let options = ConfigOptions::default();

    if let Ok(config) = resolve(&options, &env, Some(text)) {
        let url = &config.server_url;
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url:?}"
        );
        assert!(!url.ends_with('/'), "{url:?}");
        for token in [
            config.token_id.as_deref(),
            config.token_secret.as_ref().map(|s| s.expose().as_str()),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic()));
        }
    }

    // The same text with a secret planted before and after it: whatever happens, the secret
    // stays out of messages and `Debug` (unless the fuzzer wrote it itself, e.g. as a profile name).
    if text.contains(MARKER)
        || env
            .iter()
            .any(|(k, v)| k.contains(MARKER) || v.contains(MARKER))
    {
        return;
    }
    for planted in [
        format!("[default]\ntoken_secret = \"as-{MARKER}\"\n{text}"),
        format!("{text}\ntoken_secret = 'as-{MARKER}'\n"),
        format!("[default]\nactive = true\ntoken_secret = \"\"\"as-{MARKER}{text}"),
    ] {
        match resolve(&options, &env, Some(&planted)) {
            Ok(config) => assert!(!format!("{config:?}").contains(MARKER)),
            Err(e) => assert!(!e.to_string().contains(MARKER), "{e}"),
        }
    }
});
