//! Every format that crosses between this wasm and its JS, defined once on this side; src/js/abi.js
//! is the other side of each (its opening comment lists them all), and tests/node/abi.test.mjs
//! sends each one through both sides by the package's own functions (a test-only echo cost 570 B
//! of .wasm gzip, so there is none).
//!
//! - errors: [`to_js`] makes the JS error of a core [`Error`] with abi.js's `makeError`;
//! - header lines: "name\nvalue\n…" ([`header_lines`], [`read_header_lines`]);
//! - send steps: [`send_step`], read by abi.js's `readStep`;
//! - transport failures: [`Failure`], the kinds of abi.js's `FAILURE`;
//! - targets: [`source_target`] (Rust writes the targets of a name or of values; abi.js's
//!   `idTarget` writes a hydrated secret's), [`target_from_js`] reads all three;
//! - secret actions: [`SecretAction`] (abi.js `ACTION`); an unknown one is an error;
//! - outcomes: [`outcome`] (abi/outcome.rs), read by abi.js's `readOutcome`.

mod outcome;

pub use outcome::outcome;

use js_sys::{Array, Uint8Array};
use modal_secrets_core::client::{EnvDict, Request, Source, Target};
use modal_secrets_core::validate::quote;
use modal_secrets_core::{Error, Malformed};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/abi.js")]
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

// ---- errors ------------------------------------------------------------------------------------

/// The JS error for a core error: the class of its kind, with `code`, `retryable`, `retryAfter`
/// (-1: none).
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

/// The error for a format that did not hold: a fault of this package, never of its caller's input.
fn malformed(what: &str) -> JsValue {
    invalid(format!(
        "internal error: a malformed {what} crossed from JS"
    ))
}

// ---- header lines ------------------------------------------------------------------------------

/// Ends each name and each value of header lines: no header can hold a newline.
const SEPARATOR: char = '\n';

/// "name\nvalue\n…" of `pairs`.
pub fn header_lines<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut text = String::new();
    for (name, value) in pairs {
        text.push_str(name);
        text.push(SEPARATOR);
        text.push_str(value);
        text.push(SEPARATOR);
    }
    text
}

/// The pairs of "name\nvalue\n…" (a trailing name without a value is dropped).
pub fn read_header_lines(text: &str) -> Vec<(String, String)> {
    let mut parts = text.split(SEPARATOR);
    let mut pairs = Vec::new();
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    pairs
}

// ---- send steps --------------------------------------------------------------------------------

/// A send step: `[url, header lines, body, timeoutMs (-1: none), maxBodyBytes, wanted]`, `wanted`
/// being the names of the response headers to report back, "\n"-separated (abi.js `readStep`).
pub fn send_step(request: &Request<'_>, max_body_bytes: usize, wanted: &str) -> JsValue {
    let headers = header_lines(request.headers.0.iter().map(|(n, v)| (*n, v.as_str())));
    let timeout_ms = request.timeout.map_or(-1.0, |t| t.as_secs_f64() * 1000.0);
    let step = Array::of5(
        &JsValue::from_str(request.url),
        &JsValue::from_str(&headers),
        // A copy: fetch may read the body after wasm memory has moved.
        &Uint8Array::from(request.body),
        &JsValue::from_f64(timeout_ms),
        &JsValue::from_f64(max_body_bytes as f64),
    );
    step.push(&JsValue::from_str(wanted));
    step.into()
}

// ---- transport failures ------------------------------------------------------------------------

/// Why a send got no answer, as a transport reports it (abi.js `FAILURE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Connection,
    Timeout,
    /// The caller's signal fired.
    Aborted,
    /// The answer's body was over the step's `maxBodyBytes`.
    TooLarge,
}

impl Failure {
    const ALL: [Failure; 4] = [
        Failure::Connection,
        Failure::Timeout,
        Failure::Aborted,
        Failure::TooLarge,
    ];

    pub fn kind(self) -> &'static str {
        match self {
            Failure::Connection => "connection",
            Failure::Timeout => "timeout",
            Failure::Aborted => "aborted",
            Failure::TooLarge => "too-large",
        }
    }

    /// The failure of a kind; an unknown kind is this package's fault, said as such.
    pub fn from_kind(kind: &str) -> Result<Failure, Error> {
        Failure::ALL
            .into_iter()
            .find(|f| f.kind() == kind)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "internal error: a transport failed with the unknown kind {}",
                    quote(kind)
                ))
            })
    }

    /// The core's error for this failure (`message` says why a connection failed).
    pub fn error(self, message: String, max_body_bytes: usize) -> Error {
        match self {
            Failure::Timeout => Error::Timeout(std::time::Duration::ZERO),
            Failure::Aborted => Error::Cancelled,
            Failure::TooLarge => Error::Malformed(Malformed::BodyTooLarge {
                limit: max_body_bytes,
            }),
            Failure::Connection if message.is_empty() => Error::Connection("fetch failed".into()),
            Failure::Connection => Error::Connection(message),
        }
    }
}

// ---- targets -----------------------------------------------------------------------------------

fn strings(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// The target of a source as JS keeps it: `["name", name, environment | undefined, requiredKeys]`
/// or `["dict", [key, value, …]]` (a hydrated secret's, `["id", objectId, name | null, keys]`, is
/// written by abi.js's `idTarget`).
pub fn source_target(source: &Source) -> Array {
    match source {
        Source::Name {
            name,
            environment,
            required_keys,
        } => Array::of4(
            &"name".into(),
            &name.into(),
            &environment
                .as_deref()
                .map_or(JsValue::UNDEFINED, JsValue::from_str),
            &strings(required_keys),
        ),
        Source::Dict(dict) => {
            let flat = Array::new();
            for (key, value) in dict.pairs() {
                flat.push(&JsValue::from_str(key));
                flat.push(&JsValue::from_str(value));
            }
            Array::of2(&"dict".into(), &flat)
        }
    }
}

/// Reads a target made by [`source_target`] or by abi.js's `idTarget`, checked again as a
/// `Source` is checked.
pub fn target_from_js(value: &JsValue) -> Result<Target, JsValue> {
    let bad = || malformed("secret target");
    let parts: &Array = value.dyn_ref().ok_or_else(bad)?;
    let text = |i: u32| parts.get(i).as_string();
    let list = |i: u32| -> Result<Vec<String>, JsValue> {
        let items: Array = parts.get(i).dyn_into().map_err(|_| bad())?;
        items
            .iter()
            .map(|s| s.as_string().ok_or_else(bad))
            .collect()
    };
    match text(0).as_deref() {
        Some("name") => {
            let name = text(1).ok_or_else(bad)?;
            Source::name(&name, text(2).as_deref(), list(3)?)
                .map(Target::Source)
                .map_err(|e| to_js(&e))
        }
        Some("dict") => {
            let flat = list(1)?;
            if flat.len() % 2 != 0 {
                return Err(bad());
            }
            let pairs = flat
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()));
            let dict = EnvDict::new(pairs).map_err(|e| to_js(&e))?;
            Ok(Target::Source(Source::Dict(dict)))
        }
        Some("id") => Ok(Target::Hydrated {
            id: text(1).ok_or_else(bad)?,
            name: text(2),
            keys: list(3)?,
        }),
        _ => Err(bad()),
    }
}

// ---- secret actions ----------------------------------------------------------------------------

/// What `secretOp` does to a target (abi.js `ACTION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAction {
    Hydrate,
    Info,
    Update,
}

impl SecretAction {
    const ALL: [SecretAction; 3] = [
        SecretAction::Hydrate,
        SecretAction::Info,
        SecretAction::Update,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SecretAction::Hydrate => "hydrate",
            SecretAction::Info => "info",
            SecretAction::Update => "update",
        }
    }

    /// The action of a name; an unknown one (a misspelling in JS) is an error, not a hydrate.
    pub fn from_name(name: &str) -> Result<SecretAction, JsValue> {
        SecretAction::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| malformed("secret action"))
    }
}
