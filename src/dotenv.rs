//! `parseDotenv(text, { env })`.

use std::collections::HashMap;

use js_sys::{Array, JsString, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::invalid;

/// Parses `.env` text as python-dotenv's `dotenv_values` does. `${VAR}` is looked up in the earlier
/// keys, then in `options.env`. Returns a plain object whose values are strings, or `null` for a key
/// written without `=`.
#[wasm_bindgen(js_name = parseDotenv, skip_typescript)]
pub fn parse_dotenv(text: JsValue, options: JsValue) -> Result<Object, JsValue> {
    let text = text.as_string().ok_or_else(|| {
        invalid(format!(
            "parseDotenv: text must be a string, got {}",
            type_name(&text)
        ))
    })?;
    let env = env_option(&options)?;
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

/// `options.env`: absent, or an object whose values are strings (others are skipped, as
/// `process.env` can never hold them and a worker's `env` holds bindings beside its variables).
fn env_option(options: &JsValue) -> Result<HashMap<String, String>, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(HashMap::new());
    }
    if !options.is_object() {
        return Err(invalid(format!(
            "parseDotenv: options must be an object, got {}",
            type_name(options)
        )));
    }
    let env = Reflect::get(options, &JsValue::from_str("env"))?;
    if env.is_undefined() || env.is_null() {
        return Ok(HashMap::new());
    }
    if !env.is_object() {
        return Err(invalid(format!(
            "parseDotenv: options.env must be an object of strings, got {}",
            type_name(&env)
        )));
    }
    let env: &Object = env.unchecked_ref();
    let mut map = HashMap::new();
    for entry in Object::entries(env).iter() {
        let entry: Array = entry.unchecked_into();
        if let (Some(key), Some(value)) = (entry.get(0).as_string(), entry.get(1).as_string()) {
            map.insert(key, value);
        }
    }
    Ok(map)
}

fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        return "null".to_owned();
    }
    if Array::is_array(value) {
        return "an array".to_owned();
    }
    let name: String = value.js_typeof().unchecked_into::<JsString>().into();
    name
}
