//! `parseDotenv(text, { env })`.

use std::borrow::Cow;

use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::args::{self, Opts};

/// Parses `.env` text as python-dotenv's `dotenv_values` does. `${VAR}` is looked up in the earlier
/// keys, then in `options.env`. Returns a plain object whose values are strings, or `null` for a key
/// written without `=`.
#[wasm_bindgen(js_name = parseDotenv, skip_typescript)]
pub fn parse_dotenv(text: JsValue, options: JsValue) -> Result<Object, JsValue> {
    let text = args::string(&text, "parseDotenv: text")?;
    // Non-string values of `env` are skipped: `process.env` can never hold them, and a worker's
    // `env` holds bindings beside its variables.
    let env = Opts::new(&options, "parseDotenv", &["env"])?
        .env("env")?
        .unwrap_or_default();
    let pairs = modal_secrets_core::dotenv::parse_borrowed(&text, &env);
    let (packed, lengths) = pack(&pairs);
    Ok(object_from_pairs(packed, lengths))
}

#[wasm_bindgen(module = "/src/js/pairs.js")]
extern "C" {
    #[wasm_bindgen(js_name = objectFromPairs)]
    fn object_from_pairs(text: String, lengths: Vec<u32>) -> Object;
}

/// Marks a `null` value among the lengths.
const NULL: u32 = u32::MAX;

/// Every key and value in one string, with their lengths in UTF-16 units (what JS slices by).
fn pack(pairs: &[(&str, Option<Cow<'_, str>>)]) -> (String, Vec<u32>) {
    let utf16 = |s: &str| {
        // ASCII (the usual case) has as many UTF-16 units as bytes.
        let units = if s.is_ascii() {
            s.len()
        } else {
            s.encode_utf16().count()
        };
        u32::try_from(units).unwrap_or(NULL - 1)
    };
    let mut text = String::with_capacity(
        pairs
            .iter()
            .map(|(k, v)| k.len() + v.as_deref().map_or(0, str::len))
            .sum(),
    );
    let mut lengths = Vec::with_capacity(pairs.len() * 2);
    for (key, value) in pairs {
        text.push_str(key);
        lengths.push(utf16(key));
        match value {
            Some(value) => {
                text.push_str(value);
                lengths.push(utf16(value));
            }
            None => lengths.push(NULL),
        }
    }
    (text, lengths)
}
