//! A wrapper that keeps a secret out of every `Debug` and `Display`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let r = Redacted::new(String::from("as-very-secret"));
        assert_eq!(format!("{r:?} {r} {r:#?}"), "*** *** ***");
        assert_eq!(r.expose(), "as-very-secret");
    }
}
