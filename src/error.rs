//! Turning the core's errors into the package's JS error classes (src/js/errors.js).

use modal_secrets_core::Error;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/errors.js")]
extern "C" {
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(
        class_name: &str,
        code: &str,
        message: &str,
        retryable: bool,
        retry_after_secs: f64,
    ) -> JsValue;
}

/// The JS error for a core error: the class of its kind, with `code`, `retryable`, `retryAfter`.
pub fn to_js(error: &Error) -> JsValue {
    make_error(
        error.kind().class_name(),
        error.code().name(),
        &error.to_string(),
        error.retryable(),
        error.retry_after().map_or(-1.0, |d| d.as_secs_f64()),
    )
}

/// An `InvalidError` for a bad argument, with a message naming it.
pub fn invalid(message: impl Into<String>) -> JsValue {
    to_js(&Error::invalid(message))
}
