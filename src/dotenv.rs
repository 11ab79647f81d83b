//! `parseDotenv(text, { env })`.

use js_sys::{Array, Object};
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
    let pairs = modal_secrets_core::dotenv::parse(&text, &env);
    // Object.fromEntries defines own properties, so a key such as `__proto__` stays a plain key.
    let entries: Array = pairs
        .into_iter()
        .map(|(key, value)| {
            let value = value.map_or(JsValue::NULL, JsValue::from);
            Array::of2(&JsValue::from(key), &value)
        })
        .collect();
    Object::from_entries(&entries)
}
