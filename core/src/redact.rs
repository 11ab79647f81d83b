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

/// Secrets shorter than this are replaced only where they stand as a whole word: a one-digit value
/// hidden wherever the digit occurs would mangle every address, count and status in a message, and
/// tells a reader little. A word ends at whitespace, quotes, `=`, `,`, `;` and brackets, not at `.`,
/// `:`, `/` or `-`, so `127.0.0.1` stays whole while `v=ab` and `'ab'` lose `ab`.
const WHOLE_WORD_BELOW: usize = 4;

fn ends_word(c: char) -> bool {
    c.is_whitespace() || "\"'`=,;()[]{}<>".contains(c)
}

/// `text` (from a server, so possibly hostile: an echo of the token secret or of a value just sent)
/// with every occurrence of each of `secrets` replaced by `***`. Occurrences are marked first and
/// replaced at the end, so secrets that overlap or contain one another are hidden whole. Secrets of
/// fewer than 4 bytes are hidden where they stand as a whole word (see [`WHOLE_WORD_BELOW`]).
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let in_word = |c: Option<char>| c.is_some_and(|c| !ends_word(c));
    let mut hidden = vec![false; text.len()];
    let mut any = false;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        for (at, _) in text.match_indices(secret) {
            let end = at + secret.len();
            if secret.len() < WHOLE_WORD_BELOW
                && (in_word(text[..at].chars().next_back()) || in_word(text[end..].chars().next()))
            {
                continue;
            }
            hidden[at..end].fill(true);
            any = true;
        }
    }
    if !any {
        return text.to_owned();
    }
    // Marks start and end where matches do, so every run's ends are char boundaries.
    let mut out = String::with_capacity(text.len());
    let (mut shown_from, mut i) = (0, 0);
    while i < hidden.len() {
        if hidden[i] {
            out.push_str(&text[shown_from..i]);
            out.push_str("***");
            while i < hidden.len() && hidden[i] {
                i += 1;
            }
            shown_from = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[shown_from..]);
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
        assert_eq!(redact_text("é=nü é", &["nü"]), "é=*** é");
        assert_eq!(redact_text("énüé nü", &["nü"]), "énüé ***");
        // A one-digit value leaves addresses and numbers alone, but not a quoted or assigned echo.
        assert_eq!(
            redact_text("http://127.0.0.1:8 HTTP/1.1 'x' v=1 1", &["1", "x"]),
            "http://127.0.0.1:8 HTTP/1.1 '***' v=*** ***"
        );
    }

    proptest::proptest! {
        /// Whatever the text and however the secrets overlap, none of 4 bytes or more survives,
        /// and a text holding no secret comes back as it was.
        #[test]
        fn no_secret_survives(
            text in "[ab*=é ]{0,40}",
            secrets in proptest::collection::vec("[abé]{4,7}", 0..4),
        ) {
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            let out = redact_text(&text, &refs);
            for secret in &refs {
                proptest::prop_assert!(!out.contains(secret), "{out:?} holds {secret:?}");
            }
            if refs.iter().all(|s| !text.contains(s)) {
                proptest::prop_assert_eq!(out, text);
            }
        }
    }

    #[test]
    fn never_prints_the_value() {
        let r = Redacted::new(String::from("as-very-secret"));
        assert_eq!(format!("{r:?} {r} {r:#?}"), "*** *** ***");
        assert_eq!(r.expose(), "as-very-secret");
    }
}
