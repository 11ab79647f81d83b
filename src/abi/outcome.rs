//! The outcome format: an operation's [`Outcome`] as one JSON string for src/js/abi.js's
//! `readOutcome` (which documents it as a typedef) to `JSON.parse`: one crossing
//! from wasm per operation (a listing page of 100 secrets included), parsed by the engine's fast
//! JSON reader, rather than a property set per field.
//!
//! A record is `{"id", "name", "environmentName", "keys", "createdAt", "createdBy", "lastUsed"}`,
//! times in whole microseconds since the epoch (integers: no float formatting in the wasm), `null`
//! where the server gave nothing. Never a value: the core's records hold none.

use modal_secrets_core::client::{Outcome, SecretRecord};

/// `{"hydrated", "info", "keys", "records", "deleted"}`.
pub fn outcome(outcome: &Outcome) -> String {
    let mut out = String::with_capacity(64 + outcome.records.len() * 160);
    out.push_str("{\"hydrated\":");
    optional_record(&mut out, outcome.hydrated.as_ref());
    out.push_str(",\"info\":");
    optional_record(&mut out, outcome.info.as_ref());
    out.push_str(",\"keys\":");
    match &outcome.keys {
        Some(keys) => strings(&mut out, keys),
        None => out.push_str("null"),
    }
    out.push_str(",\"records\":[");
    for (i, r) in outcome.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        record(&mut out, r);
    }
    out.push_str("],\"deleted\":");
    out.push_str(if outcome.deleted { "true" } else { "false" });
    out.push('}');
    out
}

fn optional_record(out: &mut String, r: Option<&SecretRecord>) {
    match r {
        Some(r) => record(out, r),
        None => out.push_str("null"),
    }
}

fn record(out: &mut String, r: &SecretRecord) {
    out.push_str("{\"id\":");
    string(out, &r.id);
    out.push_str(",\"name\":");
    optional_string(out, r.name.as_deref());
    out.push_str(",\"environmentName\":");
    string(out, &r.environment_name);
    out.push_str(",\"keys\":");
    strings(out, &r.keys);
    out.push_str(",\"createdAt\":");
    micros(out, Some(r.created_at));
    out.push_str(",\"createdBy\":");
    optional_string(out, r.created_by.as_deref());
    out.push_str(",\"lastUsed\":");
    micros(out, r.last_used_at);
    out.push('}');
}

/// Unix seconds as whole microseconds (`null` for none; the core's times are finite and ≥ 0).
fn micros(out: &mut String, secs: Option<f64>) {
    match secs {
        // `as` saturates, so an absurd time cannot panic; 2^53 µs is the year 2255.
        Some(secs) => push_u64(out, (secs * 1e6) as u64),
        None => out.push_str("null"),
    }
}

fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

fn strings(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, s);
    }
    out.push(']');
}

fn optional_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON string: `"` and `\` escaped, control characters as `\u00XX` (whatever a server sent).
/// Runs of plain characters are copied whole (the usual case: nothing to escape).
fn string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        // UTF-8 continuation and lead bytes are >= 0x80: never escaped, never split.
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.push_str(&s[plain..i]);
        plain = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            _ => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
            }
        }
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, r#""a\"b\\c\u000a\u0001é""#);
        let mut out = String::new();
        string(&mut out, "é\"ü\u{1f}日本\\");
        assert_eq!(out, r#""é\"ü\u001f日本\\""#);
        let mut out = String::new();
        string(&mut out, "");
        assert_eq!(out, r#""""#);
    }

    #[test]
    fn an_outcome() {
        let record = SecretRecord {
            id: "st-1".into(),
            name: Some("db".into()),
            environment_name: "main".into(),
            keys: vec!["A".into(), "B".into()],
            created_at: 1_700_000_000.25,
            created_by: None,
            last_used_at: None,
        };
        let text = outcome(&Outcome {
            hydrated: Some(record),
            deleted: true,
            ..Outcome::default()
        });
        assert_eq!(
            text,
            r#"{"hydrated":{"id":"st-1","name":"db","environmentName":"main","keys":["A","B"],"createdAt":1700000000250000,"createdBy":null,"lastUsed":null},"info":null,"keys":null,"records":[],"deleted":true}"#
        );
    }

    #[test]
    fn numbers() {
        for n in [0u64, 7, 10, 1_700_000_000_250_000, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }
}
