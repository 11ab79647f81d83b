//! A wrapper that keeps a secret out of every `Debug` and `Display`, and [`redact_text`], which
//! keeps the secrets of a call out of what a server says back (an error message, a warning).

use std::fmt;

/// A value that must never be printed: token secrets, secret values.
/// `Debug` and `Display` show `***`; read the value only through [`Redacted::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    pub fn new(value: T) -> Self {
        Redacted(value)
    }

    /// The secret itself. Call it only where the value leaves for the wire.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(value: T) -> Self {
        Redacted(value)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Secrets shorter than this are replaced only where they stand as a whole word: a two-letter value
/// found inside every word of a message would leave nothing readable, and tells a reader little.
const WHOLE_WORD_BELOW: usize = 4;

/// `text` (from a server, so possibly hostile: an echo of the token secret or of a value just sent)
/// with each of `secrets` replaced by `***`. Longer secrets go first, so one that contains another
/// is hidden whole. Secrets of fewer than 4 bytes are hidden where a letter, digit or `_` does not
/// touch them on either side.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_unstable_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets {
        if secret.len() >= WHOLE_WORD_BELOW {
            if out.contains(secret) {
                out = out.replace(secret, "***");
            }
            continue;
        }
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut kept = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let mut before: Option<char> = None;
        while let Some(at) = rest.find(secret) {
            let (head, tail) = rest.split_at(at);
            let prev = head.chars().next_back().or(before);
            let next = tail[secret.len()..].chars().next();
            kept.push_str(head);
            if word(prev) || word(next) {
                // Part of a longer word: keep its first char and look again after it.
                let first = tail.chars().next().map_or(1, char::len_utf8);
                kept.push_str(&tail[..first]);
                before = tail[..first].chars().next_back();
                rest = &tail[first..];
            } else {
                kept.push_str("***");
                before = Some('*');
                rest = &tail[secret.len()..];
            }
        }
        kept.push_str(rest);
        out = kept;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_every_secret_in_server_text() {
        let secrets = ["as-TOKENSECRET", "hunter2", "hunter2-long", "ab", "x"];
        let said = "token as-TOKENSECRET, values hunter2-long and hunter2; ab=x, tab xa ab";
        assert_eq!(
            redact_text(said, &secrets),
            "token ***, values *** and ***; ***=***, tab xa ***"
        );
        assert_eq!(redact_text("no secret here", &secrets), "no secret here");
        assert_eq!(redact_text("", &secrets), "");
        assert_eq!(redact_text("xx ab", &[""]), "xx ab");
        // Non-ASCII around and inside secrets.
        assert_eq!(redact_text("é:nü:é", &["nü"]), "é:***:é");
        assert_eq!(redact_text("énüé nü", &["nü"]), "énüé ***");
    }

    #[test]
    fn never_prints_the_value() {
        let r = Redacted::new(String::from("as-very-secret"));
        assert_eq!(format!("{r:?} {r} {r:#?}"), "*** *** ***");
        assert_eq!(r.expose(), "as-very-secret");
    }
}
