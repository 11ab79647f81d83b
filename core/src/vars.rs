//! [`Vars`]: names with their values, sorted by name, each name once. What the client keeps of an
//! environment (`process.env`, a worker's `env`) and of a secret's keys and values.
//!
//! A sorted `Vec` rather than std's `BTreeMap`: the maps here are built once and then read, and
//! the B-tree's code was ~5 KB of the npm package's .wasm (issue 18).

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).ok().map(|i| self.0[i].1.as_str())
    }

    /// Sets `name` to `value`, replacing its value if it had one.
    pub fn insert(&mut self, name: String, value: String) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Every name with its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }
}

impl FromIterator<(String, String)> for Vars {
    /// A name given twice keeps its last value, as a map's `insert` would.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Vars {
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        // Latest first, so that among equal names (the sort is stable) the last given is kept.
        pairs.reverse();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        pairs.dedup_by(|later, kept| later.0 == kept.0);
        Vars(pairs)
    }
}

impl<K: Into<String>, V: Into<String>, const N: usize> From<[(K, V); N]> for Vars {
    fn from(pairs: [(K, V); N]) -> Vars {
        pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }
}

/// Names only: values may be secrets.
impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn behaves_as_a_sorted_map(
            built in proptest::collection::vec(("[a-d]{0,2}", "[x-z]{0,2}"), 0..12),
            inserted in proptest::collection::vec(("[a-d]{0,2}", "[x-z]{0,2}"), 0..6),
        ) {
            let mut vars: Vars = built.iter().cloned().collect();
            let mut map: BTreeMap<String, String> = built.into_iter().collect();
            for (k, v) in inserted {
                vars.insert(k.clone(), v.clone());
                map.insert(k, v);
            }
            let pairs: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            prop_assert_eq!(vars.iter().collect::<Vec<_>>(), pairs);
            prop_assert_eq!(vars.len(), map.len());
            for name in ["", "a", "b", "ab", "dd", "e"] {
                prop_assert_eq!(vars.get(name), map.get(name).map(String::as_str));
            }
        }
    }

    #[test]
    fn debug_shows_names_only() {
        let vars = Vars::from([("TOKEN", "s3cret-value")]);
        assert_eq!(format!("{vars:?}"), "{\"TOKEN\"}");
    }
}
