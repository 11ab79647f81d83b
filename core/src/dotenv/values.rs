//! What a value becomes after it is scanned: backslash escapes decoded ([`decode_escapes`]) and
//! `${NAME}` / `${NAME:-DEFAULT}` interpolated ([`interpolate`]), as python-dotenv does.

use crate::vars::Vars;
use std::borrow::Cow;

use super::{Memo, find_byte};

/// Replaces each backslash escape, left to right, with `decode(next byte)`; a backslash before a char
/// `decode` does not know stays as it is. Borrows when there is nothing to decode.
///
/// `decode` only ever knows ASCII bytes, so a decoded escape is two whole chars, and the runs between
/// escapes are copied whole.
pub(super) fn decode_escapes(raw: &str, decode: impl Fn(u8) -> Option<char>) -> Cow<'_, str> {
    let bytes = raw.as_bytes();
    let Some(first) = find_byte(bytes, 0, b'\\') else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    let mut copied = 0; // `raw[..copied]` is in `out` (decoded)
    let mut at = first; // a backslash
    loop {
        match bytes.get(at + 1).and_then(|&b| decode(b)) {
            Some(decoded) => {
                out.push_str(raw.get(copied..at).unwrap_or(""));
                out.push(decoded);
                copied = at + 2;
                at += 2;
            }
            // The backslash stays (copied with its run); the next char is read as usual.
            None => at += 1,
        }
        match find_byte(bytes, at, b'\\') {
            Some(next) => at = next,
            None => break,
        }
    }
    out.push_str(raw.get(copied..).unwrap_or(""));
    Cow::Owned(out)
}

/// One `${NAME}` or `${NAME:-DEFAULT}` in a value: `value[start..end]`.
pub(super) struct Variable<'v> {
    start: usize,
    end: usize,
    pub(super) name: &'v str,
    default: Option<&'v str>,
}

/// Each variable of `value`, left to right, as python-dotenv's `_posix_variable` regex finds them:
/// `${NAME}` or `${NAME:-DEFAULT}`, NAME without `}` or `:`, DEFAULT without `}`; no nesting, no
/// `$NAME`.
pub(super) fn variables<'v>(value: &'v str, mut each: impl FnMut(Variable<'v>)) {
    let bytes = value.as_bytes();
    let mut search = 0;
    let mut name_end = Memo::default();
    let mut brace = Memo::default();

    while let Some(dollar) = find_byte(bytes, search, b'$') {
        search = dollar + 1;
        if !matches!(bytes.get(dollar + 1), Some(b'{')) {
            continue;
        }
        let name_start = dollar + 2;
        let Some(stop) = name_end.find(name_start, |from| {
            bytes
                .get(from..)?
                .iter()
                .position(|&b| b == b'}' || b == b':')
                .map(|i| from + i)
        }) else {
            break; // no `}` or `:` left: no later `${` can match either
        };
        let (default, end) = if matches!(bytes.get(stop), Some(b'}')) {
            (None, stop + 1)
        } else if matches!(bytes.get(stop + 1), Some(b'-')) {
            let default_start = stop + 2;
            match brace.find(default_start, |from| find_byte(bytes, from, b'}')) {
                Some(close) => (value.get(default_start..close), close + 1),
                None => break, // no `}` left
            }
        } else {
            continue; // `:` without `-`: not a variable; try the next `$`
        };
        each(Variable {
            start: dollar,
            end,
            name: value.get(name_start..stop).unwrap_or(""),
            default,
        });
        search = end;
    }
}

/// python-dotenv's `resolve_variables` for one value: each variable (see [`variables`]) becomes the
/// value of NAME among the keys parsed so far (`earlier`: `Some(None)` for a key with no value,
/// which gives ""), else in `env`, else DEFAULT, else "".
pub(super) fn interpolate<'a, 'e>(
    value: Cow<'a, str>,
    earlier: impl Fn(&str) -> Option<Option<&'e str>>,
    env: &Vars,
) -> Cow<'a, str> {
    let mut out = String::new();
    let mut copied = 0; // `value[..copied]` is already in `out` (or replaced)
    variables(&value, |variable| {
        let resolved = match earlier(variable.name) {
            Some(bound) => bound.unwrap_or(""),
            None => env.get(variable.name).or(variable.default).unwrap_or(""),
        };
        out.push_str(value.get(copied..variable.start).unwrap_or(""));
        out.push_str(resolved);
        copied = variable.end;
    });
    if copied == 0 {
        return value;
    }
    out.push_str(value.get(copied..).unwrap_or(""));
    Cow::Owned(out)
}
