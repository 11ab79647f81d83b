//! Reading JS arguments: every wrong type, unknown option or out-of-range number becomes an
//! `InvalidError` naming the function and the argument, before anything is sent.

use modal_secrets_core::vars::Vars;
use std::time::Duration;

use js_sys::{Array, JsString, Object, Reflect};
use modal_secrets_core::validate::quote;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::abi::invalid;

/// `typeof`-like words for messages: "a string", "null", "an array", "a number" …
pub fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        return "null".to_owned();
    }
    if Array::is_array(value) {
        return "an array".to_owned();
    }
    let name: String = value.js_typeof().unchecked_into::<JsString>().into();
    match name.as_str() {
        "undefined" => name,
        "object" => "an object".to_owned(),
        other => format!("a {other}"),
    }
}

/// A number as JS prints it (Rust's float formatting would cost kilobytes of wasm).
fn number_text(value: &JsValue) -> String {
    js_sys::Number::from(value.clone())
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// A required string argument.
pub fn string(value: &JsValue, what: &str) -> Result<String, JsValue> {
    value
        .as_string()
        .ok_or_else(|| invalid(format!("{what} must be a string, got {}", type_name(value))))
}

/// An options object: `undefined` / `null` (no options) or a plain object whose keys are all in
/// `allowed`. A misspelt option is an error rather than silently ignored.
pub struct Opts<'a> {
    object: Option<Object>,
    what: &'a str,
}

impl<'a> Opts<'a> {
    pub fn new(value: &JsValue, what: &'a str, allowed: &[&str]) -> Result<Opts<'a>, JsValue> {
        if value.is_undefined() || value.is_null() {
            return Ok(Opts { object: None, what });
        }
        if !value.is_object() || Array::is_array(value) || value.is_function() {
            return Err(invalid(format!(
                "{what}: options must be an object, got {}",
                type_name(value)
            )));
        }
        let object: Object = value.clone().unchecked_into();
        for key in Object::keys(&object).iter() {
            let key = key.as_string().unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                return Err(invalid(format!(
                    "{what}: unknown option {}; the options are {}",
                    quote(&key),
                    allowed.join(", ")
                )));
            }
        }
        Ok(Opts {
            object: Some(object),
            what,
        })
    }

    /// The option's value; `undefined` when absent. `null` counts as absent too.
    pub fn get(&self, key: &str) -> JsValue {
        let Some(object) = &self.object else {
            return JsValue::UNDEFINED;
        };
        match Reflect::get(object, &JsValue::from_str(key)) {
            Ok(v) if !v.is_null() => v,
            _ => JsValue::UNDEFINED,
        }
    }

    fn bad(&self, key: &str, expected: &str, got: &JsValue) -> JsValue {
        invalid(format!(
            "{}: options.{key} must be {expected}, got {}",
            self.what,
            type_name(got)
        ))
    }

    pub fn string(&self, key: &str) -> Result<Option<String>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| self.bad(key, "a string", &v))
    }

    pub fn bool(&self, key: &str) -> Result<bool, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(false);
        }
        v.as_bool().ok_or_else(|| self.bad(key, "a boolean", &v))
    }

    /// An array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(Vec::new());
        }
        if !Array::is_array(&v) {
            return Err(self.bad(key, "an array of strings", &v));
        }
        let array: Array = v.unchecked_into();
        array
            .iter()
            .map(|item| {
                item.as_string()
                    .ok_or_else(|| self.bad(key, "an array of strings", &item))
            })
            .collect()
    }

    /// A number of milliseconds, converted exactly (fractions of a millisecond are kept).
    pub fn millis(&self, key: &str) -> Result<Option<Duration>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(None);
        }
        match v.as_f64() {
            // Whole microseconds; `as` saturates, so this cannot panic.
            Some(ms) if ms.is_finite() && ms >= 0.0 => {
                Ok(Some(Duration::from_micros((ms.min(1e15) * 1000.0) as u64)))
            }
            Some(_) => Err(invalid(format!(
                "{}: options.{key} must be a finite number of milliseconds ≥ 0, got {}",
                self.what,
                number_text(&v)
            ))),
            None => Err(self.bad(key, "a number of milliseconds", &v)),
        }
    }

    /// A whole number ≥ 0.
    pub fn count(&self, key: &str) -> Result<Option<u64>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(None);
        }
        match v.as_f64() {
            Some(n)
                if n.is_finite()
                    && n >= 0.0
                    && n.fract() == 0.0
                    && n <= 9.007_199_254_740_991e15 =>
            {
                Ok(Some(n as u64))
            }
            Some(_) => Err(invalid(format!(
                "{}: options.{key} must be a whole number ≥ 0, got {}",
                self.what,
                number_text(&v)
            ))),
            None => Err(self.bad(key, "a whole number", &v)),
        }
    }

    /// A function, or `undefined`.
    pub fn function(&self, key: &str) -> Result<JsValue, JsValue> {
        let v = self.get(key);
        if v.is_undefined() || v.is_function() {
            return Ok(v);
        }
        Err(self.bad(key, "a function", &v))
    }

    /// An `AbortSignal` (anything with a boolean `aborted` and `addEventListener`), or `undefined`.
    pub fn signal(&self, key: &str) -> Result<JsValue, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(v);
        }
        let looks_right = v.is_object()
            && Reflect::get(&v, &JsValue::from_str("aborted")).is_ok_and(|a| a.as_bool().is_some())
            && Reflect::get(&v, &JsValue::from_str("addEventListener"))
                .is_ok_and(|f| f.is_function());
        if looks_right {
            Ok(v)
        } else {
            Err(self.bad(key, "an AbortSignal", &v))
        }
    }

    /// A point in time as unix seconds: a `Date`, a date string (`Date.parse`), or milliseconds
    /// since the epoch (like `Date.now()`).
    pub fn date_secs(&self, key: &str) -> Result<Option<f64>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(None);
        }
        let ms = if v.is_instance_of::<js_sys::Date>() {
            v.unchecked_ref::<js_sys::Date>().get_time()
        } else if let Some(text) = v.as_string() {
            js_sys::Date::parse(&text)
        } else if let Some(n) = v.as_f64() {
            n
        } else {
            return Err(self.bad(key, "a Date, a date string or a number of ms", &v));
        };
        if !ms.is_finite() {
            return Err(invalid(format!(
                "{}: options.{key} is not a valid date",
                self.what
            )));
        }
        Ok(Some(ms / 1000.0))
    }

    /// An object of string values (`process.env`, a worker's `env`); other values are skipped.
    pub fn env(&self, key: &str) -> Result<Option<Vars>, JsValue> {
        let v = self.get(key);
        if v.is_undefined() {
            return Ok(None);
        }
        env_map(&v, &format!("{}: options.{key}", self.what)).map(Some)
    }
}

/// The string-valued entries of an object such as `process.env`.
pub fn env_map(value: &JsValue, what: &str) -> Result<Vars, JsValue> {
    if !value.is_object() || Array::is_array(value) {
        return Err(invalid(format!(
            "{what} must be an object of strings, got {}",
            type_name(value)
        )));
    }
    Ok(Object::entries(value.unchecked_ref())
        .iter()
        .filter_map(|entry| {
            let entry: Array = entry.unchecked_into();
            Some((entry.get(0).as_string()?, entry.get(1).as_string()?))
        })
        .collect())
}

/// The own entries of a plain object, for an env dict: keys with their values as given.
pub fn entries(value: &JsValue, what: &str) -> Result<Vec<(String, JsValue)>, JsValue> {
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(invalid(format!(
            "{what} must be an object of string values, got {}",
            type_name(value)
        )));
    }
    if value.is_instance_of::<js_sys::Map>() {
        return Err(invalid(format!(
            "{what} must be a plain object, not a Map (use Object.fromEntries(map))"
        )));
    }
    Ok(Object::entries(value.unchecked_ref())
        .iter()
        .map(|entry| {
            let entry: Array = entry.unchecked_into();
            (entry.get(0).as_string().unwrap_or_default(), entry.get(1))
        })
        .collect())
}
