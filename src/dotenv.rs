//! `parseDotenv(text, { env })`.
//!
//! The crossings are most of a large file's time, so each is one call: the text comes in through
//! `TextEncoder.encodeInto`, and the result goes out as spans of the text itself (src/js/pairs.js
//! slices the JS string it was given), plus one string holding only what the parse made new.

use std::borrow::Cow;

use js_sys::{JsString, Object};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::abi::invalid;
use crate::args::{self, Opts};

/// Parses `.env` text as python-dotenv's `dotenv_values` does. `${VAR}` is looked up in the earlier
/// keys, then in `options.env`. Returns a plain object whose values are strings, or `null` for a key
/// written without `=`.
#[wasm_bindgen(js_name = parseDotenv, skip_typescript)]
pub fn parse_dotenv(text: JsValue, options: JsValue) -> Result<Object, JsValue> {
    let (source, units) = if text.is_string() {
        utf8(&text)?
    } else {
        (args::string(&text, "parseDotenv: text")?, None)
    };
    // Non-string values of `env` are skipped: `process.env` can never hold them, and a worker's
    // `env` holds bindings beside its variables.
    let env = Opts::new(&options, "parseDotenv", &["env"])?
        .env("env")?
        .unwrap_or_default();
    // Repeated keys are not merged here: objectFromSpans assigns every binding in turn, which merges
    // them as python-dotenv's dict does (first position, last value), with the hashing V8 does anyway.
    let pairs = modal_secrets_core::dotenv::parse_bindings(&source, &env);
    // As many UTF-16 units as UTF-8 bytes: all ASCII, so a byte offset is a JS string index.
    let ascii = units == Some(source.len());
    let (extra, spans) = spans(&source, ascii, &pairs)
        .ok_or_else(|| invalid("parseDotenv: the result is too large"))?;
    Ok(object_from_spans(&text, extra, spans))
}

/// `Secret.fromDotenv(path, options)`'s arguments, checked before the host (src/js/files.js)
/// searches for the file; the file name it looks for (`options.filename`, else ".env"). A file URL
/// `path` was made a path by the host.
#[cfg(feature = "files")]
#[wasm_bindgen(js_name = dotenvFilename, skip_typescript)]
pub fn dotenv_filename(path: JsValue, options: JsValue) -> Result<String, JsValue> {
    let what = "Secret.fromDotenv";
    if !(path.is_undefined() || path.is_null() || path.is_string()) {
        return Err(invalid(format!(
            "{what}: path must be a string or a file URL, got {}",
            crate::args::type_name(&path)
        )));
    }
    let opts = Opts::new(&options, what, &["filename"])?;
    let filename = opts.get("filename");
    if filename.is_undefined() {
        return Ok(".env".to_owned());
    }
    let filename = filename.as_string().ok_or_else(|| {
        invalid(format!(
            "{what}: options.filename must be a non-empty string, got {}",
            crate::args::type_name(&filename)
        ))
    })?;
    modal_secrets_core::validate::dotenv_filename(&filename).map_err(|e| crate::abi::to_js(&e))?;
    Ok(filename)
}

#[wasm_bindgen(module = "/src/js/pairs.js")]
extern "C" {
    #[wasm_bindgen(js_name = objectFromSpans)]
    fn object_from_spans(text: &JsValue, extra: String, spans: Vec<u32>) -> Object;

    #[wasm_bindgen(js_name = encodeInto)]
    fn encode_into(text: &JsValue, memory: &JsValue, at: *mut u8, room: usize) -> i32;
}

/// A JS string as UTF-8, written straight into wasm memory by `TextEncoder.encodeInto`, and its
/// length in UTF-16 units.
///
/// `JsValue::as_string` (wasm-bindgen's glue) copies every ASCII char with a JS loop before it calls
/// `encodeInto` for the rest: most of a large .env's crossing. `encodeInto` replaces a lone
/// surrogate with U+FFFD, as the glue does, so the result is always UTF-8 (and a value with a lone
/// surrogate comes back with U+FFFD, as before).
fn utf8(text: &JsValue) -> Result<(String, Option<usize>), JsValue> {
    let too_long = || invalid("parseDotenv: text is too long");
    let units = text.unchecked_ref::<JsString>().length() as usize;
    // As many bytes as UTF-16 units fits ASCII; at most 3 bytes per unit fits anything.
    for room in [units, units.saturating_mul(3)] {
        // Too little memory is an error, not an abort: `vec!` aborts when it cannot allocate, so ask
        // first, then take the zeroed buffer from where that space now is (`vec!` zeroes with
        // memory.fill; `resize` would write byte by byte at opt-level "z").
        Vec::<u8>::new()
            .try_reserve_exact(room)
            .map_err(|_| too_long())?;
        let mut buf = vec![0u8; room];
        let written = encode_into(text, &wasm_bindgen::memory(), buf.as_mut_ptr(), room);
        if let Ok(written) = usize::try_from(written) {
            buf.truncate(written);
            let text =
                String::from_utf8(buf).map_err(|_| invalid("parseDotenv: text is not UTF-16"))?;
            return Ok((text, Some(units)));
        }
    }
    Err(too_long())
}

/// The high bit of a span's start: the span is in `extra`, not in the text.
const EXTRA: u32 = 1 << 31;
/// A value's start that marks `null`.
const NULL: u32 = u32::MAX;

/// Per pair, the key's `(start, length)` then the value's, in UTF-16 units: in the text when the
/// text is ASCII (`in_text`) and the parse borrowed it from there (every key, most values), else in
/// `extra`. `None` when a position does not fit below [`EXTRA`].
fn spans(
    text: &str,
    in_text: bool,
    pairs: &[(&str, Option<Cow<'_, str>>)],
) -> Option<(String, Vec<u32>)> {
    let base = text.as_ptr() as usize;
    let mut extra = String::new();
    let mut extra_units: u32 = 0;
    let mut spans = Vec::with_capacity(pairs.len() * 4);
    let mut span = |s: &str, spans: &mut Vec<u32>| -> Option<()> {
        let offset = (s.as_ptr() as usize).wrapping_sub(base);
        let (start, length) = if in_text && offset <= text.len() && s.len() <= text.len() - offset {
            let start = u32::try_from(offset).ok().filter(|&start| start < EXTRA)?;
            (start, u32::try_from(s.len()).ok()?)
        } else {
            // ASCII (the usual case) has as many UTF-16 units as bytes.
            let units = if s.is_ascii() {
                s.len()
            } else {
                s.encode_utf16().count()
            };
            let start = extra_units;
            let length = u32::try_from(units).ok()?;
            extra_units = extra_units.checked_add(length).filter(|&end| end < EXTRA)?;
            extra.push_str(s);
            (start | EXTRA, length)
        };
        spans.push(start);
        spans.push(length);
        Some(())
    };
    for (key, value) in pairs {
        span(key, &mut spans)?;
        match value {
            Some(value) => span(value, &mut spans)?,
            None => spans.extend([NULL, 0]),
        }
    }
    Some((extra, spans))
}

#[cfg(test)]
mod tests {
    use modal_secrets_core::vars::Vars;

    use super::*;

    /// What src/js/pairs.js makes of the spans (UTF-16 slices, assigned in turn to one object), as
    /// Rust strings.
    fn rebuild(text: &str, extra: &str, spans: &[u32]) -> Vec<(String, Option<String>)> {
        let units = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        let (text, extra) = (units(text), units(extra));
        let piece = |start: u32, length: u32| {
            let (source, start) = if start < EXTRA {
                (&text, start)
            } else {
                (&extra, start - EXTRA)
            };
            let range = start as usize..(start + length) as usize;
            String::from_utf16(&source[range]).unwrap()
        };
        let mut object: Vec<(String, Option<String>)> = Vec::new();
        for s in spans.chunks(4) {
            let (key, value) = (piece(s[0], s[1]), (s[2] != NULL).then(|| piece(s[2], s[3])));
            match object.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => object.push((key, value)),
            }
        }
        object
    }

    #[test]
    fn spans_give_back_every_pair() {
        let env = Vars::from([("E".to_owned(), "from env".to_owned())]);
        for text in [
            "A=1\nB=\"x\\ny\"\nC='${A}'\nD\nE=${E}\nF= spaced # c\nG=\n",
            "A=é\nB=\"𝄞\\t\"\nC=${A}${B}\nD\n",
            "K=1\nB=${K}\nK=2\nC=${K}\nB\nK=${B:-x}${K}\n",
            "",
        ] {
            let pairs = modal_secrets_core::dotenv::parse_bindings(text, &env);
            let expected = modal_secrets_core::dotenv::parse(text, &env);
            let (extra, spans) = spans(text, text.is_ascii(), &pairs).unwrap();
            assert_eq!(rebuild(text, &extra, &spans), expected, "{text:?}");
            if text.starts_with("A=1") {
                // Only what unescaping or interpolation made is copied.
                assert_eq!(extra, "x\ny1from env");
            }
        }
    }
}
