//! A declarative sync: make a secret hold exactly the keys of a source (a `.env` file), as one
//! update. Given the secret's current key names and the source's keys and values, [`plan`] says
//! which keys are added (new), set (present, overwritten: values are write-only, so an unchanged
//! value cannot be told apart), removed (present, not in the source, with `prune`) and kept (the
//! same without `prune`), and builds the single [`Update`] list that applies all of it, so a sync
//! is applied whole or not at all.
//!
//! The plan's lists hold key names only; the values live in the updates, redacted from `Debug`.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::Update;
use crate::error::Error;
use crate::redact::Redacted;
use crate::validate;

/// What a sync changes. Every list is sorted and holds key names only.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// In the source, not in the secret.
    pub add: Vec<String>,
    /// In the source and in the secret: overwritten with the source's value.
    pub set: Vec<String>,
    /// In the secret, not in the source, and `prune` was asked for.
    pub remove: Vec<String>,
    /// In the secret, not in the source, without `prune`: left as they are.
    pub keep: Vec<String>,
    /// The one update that applies the plan: a value for every key of `add` and `set`, `None`
    /// (remove) for every key of `remove`; sorted by key.
    updates: Vec<Update>,
}

impl Plan {
    /// The single update to send (`SecretUpdate`), or, for a secret that does not exist yet, the
    /// contents to create it with (there is nothing to remove then).
    pub fn updates(&self) -> &[Update] {
        &self.updates
    }

    /// The key names the secret holds once the plan is applied, sorted.
    pub fn keys_after(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .add
            .iter()
            .chain(&self.set)
            .chain(&self.keep)
            .cloned()
            .collect();
        keys.sort();
        keys
    }
}

/// The plan that makes a secret whose keys are `current` hold every key of `desired` (a missing
/// secret has no current keys), and with `prune` nothing else.
///
/// `desired` is the source's keys and values in any order (a repeated key keeps its last value,
/// as in a dict); a key with no value (`None`: a `.env` line without `=`) is an error, as is an
/// invalid key or an empty source (with `prune` it would empty the secret, almost surely by
/// mistake). `current` comes from the server and is taken as it is.
pub fn plan<K: AsRef<str>>(
    current: impl IntoIterator<Item = K>,
    desired: impl IntoIterator<Item = (String, Option<String>)>,
    prune: bool,
) -> Result<Plan, Error> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in desired {
        validate::env_key(&key)?;
        let Some(value) = value else {
            return Err(Error::invalid(format!(
                "key {} has no value (write {key}= for an empty one)",
                validate::quote(&key)
            )));
        };
        wanted.insert(key, value);
    }
    if wanted.is_empty() {
        return Err(Error::invalid("nothing to sync: no keys given"));
    }
    let current: BTreeSet<String> = current.into_iter().map(|k| k.as_ref().to_owned()).collect();

    let mut plan = Plan::default();
    for key in &current {
        if wanted.contains_key(key) {
            plan.set.push(key.clone());
        } else if prune {
            plan.remove.push(key.clone());
        } else {
            plan.keep.push(key.clone());
        }
    }
    plan.add = wanted
        .keys()
        .filter(|k| !current.contains(*k))
        .cloned()
        .collect();

    // One sorted list: the wanted keys with their values, the pruned keys with none.
    let mut updates: BTreeMap<String, Option<Redacted<String>>> = wanted
        .into_iter()
        .map(|(key, value)| (key, Some(Redacted::new(value))))
        .collect();
    updates.extend(plan.remove.iter().map(|key| (key.clone(), None)));
    plan.updates = updates
        .into_iter()
        .map(|(key, value)| Update { key, value })
        .collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn desired(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect()
    }

    fn names(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    /// `(key, value)` of each update, values exposed, for assertions.
    fn exposed(plan: &Plan) -> Vec<(String, Option<String>)> {
        plan.updates()
            .iter()
            .map(|u| (u.key.clone(), u.value.as_ref().map(|v| v.expose().clone())))
            .collect()
    }

    #[test]
    fn add_set_keep_without_prune() {
        let plan = plan(
            ["B", "C", "A"],
            desired(&[("C", "3"), ("D", "4"), ("A", "1")]),
            false,
        )
        .unwrap();
        assert_eq!(plan.add, names(&["D"]));
        assert_eq!(plan.set, names(&["A", "C"]));
        assert_eq!(plan.remove, Vec::<String>::new());
        assert_eq!(plan.keep, names(&["B"]));
        assert_eq!(
            exposed(&plan),
            vec![
                ("A".into(), Some("1".into())),
                ("C".into(), Some("3".into())),
                ("D".into(), Some("4".into())),
            ]
        );
        assert_eq!(plan.keys_after(), names(&["A", "B", "C", "D"]));
    }

    #[test]
    fn prune_removes_what_the_source_lacks_in_the_same_update() {
        let plan = plan(
            ["OLD", "KEEP"],
            desired(&[("KEEP", "k"), ("NEW", "n")]),
            true,
        )
        .unwrap();
        assert_eq!(plan.add, names(&["NEW"]));
        assert_eq!(plan.set, names(&["KEEP"]));
        assert_eq!(plan.remove, names(&["OLD"]));
        assert!(plan.keep.is_empty());
        assert_eq!(
            exposed(&plan),
            vec![
                ("KEEP".into(), Some("k".into())),
                ("NEW".into(), Some("n".into())),
                ("OLD".into(), None),
            ]
        );
        assert_eq!(plan.keys_after(), names(&["KEEP", "NEW"]));
    }

    #[test]
    fn a_missing_secret_gets_every_key_added() {
        let plan = plan(
            Vec::<String>::new(),
            desired(&[("B", ""), ("A", "x")]),
            true,
        )
        .unwrap();
        assert_eq!(plan.add, names(&["A", "B"]));
        assert!(plan.set.is_empty() && plan.remove.is_empty() && plan.keep.is_empty());
        assert!(plan.updates().iter().all(|u| u.value.is_some()));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let plan = plan(["A"], desired(&[("A", "1"), ("A", "2")]), false).unwrap();
        assert_eq!(plan.set, names(&["A"]));
        assert_eq!(exposed(&plan), vec![("A".into(), Some("2".into()))]);
    }

    #[test]
    fn bad_input_is_refused_naming_the_key_never_the_value() {
        let no_value = vec![
            ("A".to_owned(), Some("secret-a".to_owned())),
            ("FLAG".to_owned(), None),
        ];
        let msg = plan(["A"], no_value, true).unwrap_err().to_string();
        assert_eq!(
            msg,
            "key \"FLAG\" has no value (write FLAG= for an empty one)"
        );

        let bad_key = desired(&[("MY-KEY", "secret-b")]);
        let msg = plan(Vec::<String>::new(), bad_key, false)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("\"MY-KEY\"") && !msg.contains("secret-b"),
            "{msg}"
        );

        let err = plan(["A"], Vec::new(), true).unwrap_err();
        assert_eq!(err.to_string(), "nothing to sync: no keys given");
        assert_eq!(err.code().name(), "INVALID_ARGUMENT");
    }

    #[test]
    fn debug_shows_key_names_but_no_value() {
        let plan = plan(["OLD"], desired(&[("TOKEN", "hunter2-value")]), true).unwrap();
        let debug = format!("{plan:?}");
        assert!(debug.contains("TOKEN") && debug.contains("OLD"), "{debug}");
        assert!(!debug.contains("hunter2-value"), "{debug}");
    }

    fn key() -> impl Strategy<Value = String> {
        "[A-F_][A-F0-9_]{0,2}"
    }

    proptest! {
        #[test]
        fn the_update_makes_the_secret_match_the_source(
            current in prop::collection::btree_map(key(), "[a-z]{0,3}", 0..12),
            source in prop::collection::vec((key(), "[a-z0-9]{0,3}"), 1..12),
            prune in any::<bool>(),
        ) {
            let plan = plan(current.keys(), source.iter().map(|(k, v)| (k.clone(), Some(v.clone()))), prune).unwrap();
            let wanted: BTreeMap<String, String> = source.iter().cloned().collect();

            // The lists partition the keys of the secret and of the source.
            let set_of = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
            let (add, set, remove, keep) = (set_of(&plan.add), set_of(&plan.set), set_of(&plan.remove), set_of(&plan.keep));
            prop_assert_eq!(add.union(&set).cloned().collect::<BTreeSet<_>>(), wanted.keys().cloned().collect());
            prop_assert!(add.iter().all(|k| !current.contains_key(k)));
            prop_assert!(set.iter().all(|k| current.contains_key(k)));
            prop_assert_eq!(
                remove.union(&keep).cloned().collect::<BTreeSet<_>>(),
                current.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect()
            );
            let untouched = if prune { &keep } else { &remove };
            prop_assert!(untouched.is_empty());
            for list in [&plan.add, &plan.set, &plan.remove, &plan.keep] {
                prop_assert!(list.windows(2).all(|w| w[0] < w[1]), "not sorted: {:?}", list);
            }

            // One update, one entry per changed key, sorted.
            let updates = plan.updates();
            prop_assert_eq!(updates.len(), add.len() + set.len() + remove.len());
            prop_assert!(updates.windows(2).all(|w| w[0].key < w[1].key));

            // Applied to the secret, it gives the source's values, and nothing else with prune.
            let mut after = current.clone();
            for u in updates {
                match &u.value {
                    Some(v) => { after.insert(u.key.clone(), v.expose().clone()); }
                    None => { after.remove(&u.key); }
                }
            }
            for (k, v) in &wanted {
                prop_assert_eq!(after.get(k), Some(v));
            }
            let expected_keys: BTreeSet<String> = if prune {
                wanted.keys().cloned().collect()
            } else {
                current.keys().chain(wanted.keys()).cloned().collect()
            };
            prop_assert_eq!(after.keys().cloned().collect::<BTreeSet<_>>(), expected_keys.clone());
            prop_assert_eq!(plan.keys_after(), expected_keys.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn replanning_after_applying_changes_nothing_but_sets(
            current in prop::collection::btree_set(key(), 0..10),
            source in prop::collection::btree_map(key(), "[a-z]{0,3}", 1..10),
            prune in any::<bool>(),
        ) {
            let first = plan(&current, source.clone().into_iter().map(|(k, v)| (k, Some(v))), prune).unwrap();
            let again = plan(first.keys_after(), source.clone().into_iter().map(|(k, v)| (k, Some(v))), prune).unwrap();
            prop_assert!(again.add.is_empty() && again.remove.is_empty());
            prop_assert_eq!(again.set, source.keys().cloned().collect::<Vec<_>>());
        }
    }
}
