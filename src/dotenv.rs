//! `parseDotenv(text, { env })`.

use std::borrow::Cow;

use js_sys::{JsString, Object};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::args::{self, Opts};
use crate::error::invalid;

/// Parses `.env` text as python-dotenv's `dotenv_values` does. `${VAR}` is looked up in the earlier
/// keys, then in `options.env`. Returns a plain object whose values are strings, or `null` for a key
/// written without `=`.
#[wasm_bindgen(js_name = parseDotenv, skip_typescript)]
pub fn parse_dotenv(text: JsValue, options: JsValue) -> Result<Object, JsValue> {
    let text = if text.is_string() {
        utf8(&text)?
    } else {
        args::string(&text, "parseDotenv: text")?
    };
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

    #[wasm_bindgen(js_name = encodeInto)]
    fn encode_into(text: &JsValue, memory: &JsValue, at: *mut u8, room: usize) -> i32;
}

/// A JS string as UTF-8, written straight into wasm memory by `TextEncoder.encodeInto`.
///
/// `JsValue::as_string` (wasm-bindgen's glue) copies every ASCII char with a JS loop before it calls
/// `encodeInto` for the rest: most of a large .env's crossing. `encodeInto` replaces a lone
/// surrogate with U+FFFD, as the glue does, so the result is always UTF-8.
fn utf8(text: &JsValue) -> Result<String, JsValue> {
    let units = text.unchecked_ref::<JsString>().length() as usize;
    // As many bytes as UTF-16 units fits ASCII; at most 3 bytes per unit fits anything.
    for room in [units, units.saturating_mul(3)] {
        let mut buf = Vec::new();
        // An allocation failure is an error, not an abort.
        buf.try_reserve_exact(room)
            .map_err(|_| invalid("parseDotenv: text is too long"))?;
        buf.resize(room, 0);
        let written = encode_into(text, &wasm_bindgen::memory(), buf.as_mut_ptr(), room);
        if let Ok(written) = usize::try_from(written) {
            buf.truncate(written);
            return String::from_utf8(buf).map_err(|_| invalid("parseDotenv: text is not UTF-16"));
        }
    }
    Err(invalid("parseDotenv: text is too long"))
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
