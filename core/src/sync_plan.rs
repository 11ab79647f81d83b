//! The plan of a declarative `.env` sync (the command line's `sync`, and `create --force`): make a
//! secret hold exactly the keys of a source (a `.env` file), as one update. Given what the lookup
//! found ([`Target`]: the secret's key names and environment, or NOT_FOUND) and the source's keys
//! and values, [`plan`] says which keys are added (new), set (present, overwritten: values are
//! write-only, so an unchanged value cannot be told apart), removed (present, not in the source,
//! with `prune`) and kept (the same without `prune`), and builds the single [`Update`] list that
//! applies all of it, so a sync is applied whole or not at all. It also makes every other decision
//! of a sync, so that its caller only does the I/O: whether the secret is created or updated,
//! whether anything is sent (not on a dry run), whether a dry run must first check the environment
//! exists, and which environment to name.
//!
//! The plan's lists hold key names only; the values live in the updates, redacted from `Debug`.

use crate::vars::Vars;

use crate::client::Update;
use crate::error::Error;
use crate::redact::Redacted;
use crate::validate;

/// The secret a sync writes to, as the lookup found it.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// The secret exists: its key names (as the server gave them) and the environment its
    /// metadata names.
    Existing {
        keys: Vec<String>,
        environment_name: String,
    },
    /// The lookup answered NOT_FOUND in the client's environment (`""`: the workspace's default).
    Missing { client_environment: String },
}

/// What was asked for besides the source.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Options {
    /// Remove the secret's keys the source does not have.
    pub prune: bool,
    /// Show the plan only; send nothing.
    pub dry_run: bool,
}

/// What a sync changes, and how. Every list is sorted and holds key names only.
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
    /// The secret does not exist: the plan is applied by creating it with [`Plan::updates`] as its
    /// contents. Otherwise by one update (`SecretUpdate`) of the existing secret.
    pub creates: bool,
    /// Whether the plan is sent at all: false on a dry run.
    pub applies: bool,
    /// Before showing the plan, check that the environment exists (listing one secret of it
    /// does): on a dry run for a missing secret, NOT_FOUND may have meant "no such environment",
    /// which a real run's create would report; a dry run must not show a create there instead.
    pub probe_environment: bool,
    /// The environment to name: the secret's own for an existing one, else the client's; `None`
    /// when that is the workspace's default (the client named none).
    pub environment_name: Option<String>,
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

/// The plan that makes the secret `target` (a missing secret has no keys) hold every key of
/// `desired`, and with `options.prune` nothing else.
///
/// `desired` is the source's keys and values in any order (a repeated key keeps its last value,
/// as in a dict); a key with no value (`None`: a `.env` line without `=`) is an error, as is an
/// invalid key or an empty source (with `prune` it would empty the secret, almost surely by
/// mistake). The target's keys come from the server and are taken as they are.
pub fn plan(
    target: Target,
    desired: Vec<(String, Option<String>)>,
    options: Options,
) -> Result<Plan, Error> {
    // Concrete types, and only maps and lists of the kinds the client already uses (Vars as in
    // EnvDict, a sorted Vec<String> as in SecretRecord::apply): each new generic instance would add
    // to the .wasm for a function only the command line calls.
    let mut pairs = Vec::with_capacity(desired.len());
    for (key, value) in desired {
        validate::env_key(&key)?;
        let Some(value) = value else {
            return Err(Error::invalid(format!(
                "key {} has no value (write {key}= for an empty one)",
                validate::quote(&key)
            )));
        };
        pairs.push((key, value));
    }
    let wanted: Vars = pairs.into_iter().collect();
    if wanted.is_empty() {
        return Err(Error::invalid("nothing to sync: no keys given"));
    }
    let (mut current, creates, environment) = match target {
        Target::Existing {
            keys,
            environment_name,
        } => (keys, false, environment_name),
        Target::Missing { client_environment } => (Vec::new(), true, client_environment),
    };
    current.sort();
    current.dedup();

    let mut plan = Plan {
        creates,
        applies: !options.dry_run,
        probe_environment: creates && options.dry_run,
        environment_name: Some(environment).filter(|name| !name.is_empty()),
        ..Plan::default()
    };
    for key in current.iter() {
        let list = if wanted.get(key).is_some() {
            &mut plan.set
        } else if options.prune {
            &mut plan.remove
        } else {
            &mut plan.keep
        };
        list.push(key.clone());
    }
    // One list sorted by key: the wanted keys with their values, merged with the pruned keys.
    let mut pruned = plan.remove.iter().peekable();
    for (key, value) in wanted.iter() {
        if current.binary_search_by(|k| k.as_str().cmp(key)).is_err() {
            plan.add.push(key.to_owned());
        }
        while let Some(gone) = pruned.next_if(|gone| gone.as_str() < key) {
            plan.updates.push(Update {
                key: gone.clone(),
                value: None,
            });
        }
        plan.updates.push(Update {
            key: key.to_owned(),
            value: Some(Redacted::new(value.to_owned())),
        });
    }
    for gone in pruned {
        plan.updates.push(Update {
            key: gone.clone(),
            value: None,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn desired(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
            .collect()
    }

    fn names(keys: &[&str]) -> Vec<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    /// An existing secret with these keys, in environment "main".
    fn existing(keys: &[&str]) -> Target {
        Target::Existing {
            keys: names(keys),
            environment_name: "main".to_owned(),
        }
    }

    /// No such secret in the client's environment `env`.
    fn missing(env: &str) -> Target {
        Target::Missing {
            client_environment: env.to_owned(),
        }
    }

    fn pruning(prune: bool) -> Options {
        Options {
            prune,
            dry_run: false,
        }
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
            existing(&["B", "C", "A"]),
            desired(&[("C", "3"), ("D", "4"), ("A", "1")]),
            pruning(false),
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
            existing(&["OLD", "KEEP"]),
            desired(&[("KEEP", "k"), ("NEW", "n")]),
            pruning(true),
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
            missing(""),
            desired(&[("B", ""), ("A", "x")]),
            pruning(true),
        )
        .unwrap();
        assert_eq!(plan.add, names(&["A", "B"]));
        assert!(plan.set.is_empty() && plan.remove.is_empty() && plan.keep.is_empty());
        assert!(plan.updates().iter().all(|u| u.value.is_some()));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let plan = plan(
            existing(&["A"]),
            desired(&[("A", "1"), ("A", "2")]),
            pruning(false),
        )
        .unwrap();
        assert_eq!(plan.set, names(&["A"]));
        assert_eq!(exposed(&plan), vec![("A".into(), Some("2".into()))]);
    }

    #[test]
    fn bad_input_is_refused_naming_the_key_never_the_value() {
        let no_value = vec![
            ("A".to_owned(), Some("secret-a".to_owned())),
            ("FLAG".to_owned(), None),
        ];
        let msg = plan(existing(&["A"]), no_value, pruning(true))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "key \"FLAG\" has no value (write FLAG= for an empty one)"
        );

        let bad_key = desired(&[("MY-KEY", "secret-b")]);
        let msg = plan(missing(""), bad_key, pruning(false))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("\"MY-KEY\"") && !msg.contains("secret-b"),
            "{msg}"
        );

        let err = plan(existing(&["A"]), Vec::new(), pruning(true)).unwrap_err();
        assert_eq!(err.to_string(), "nothing to sync: no keys given");
        assert_eq!(err.code().name(), "INVALID_ARGUMENT");
    }

    #[test]
    fn debug_shows_key_names_but_no_value() {
        let plan = plan(
            existing(&["OLD"]),
            desired(&[("TOKEN", "hunter2-value")]),
            pruning(true),
        )
        .unwrap();
        let debug = format!("{plan:?}");
        assert!(debug.contains("TOKEN") && debug.contains("OLD"), "{debug}");
        assert!(!debug.contains("hunter2-value"), "{debug}");
    }

    #[test]
    fn a_missing_secret_is_created_and_an_existing_one_updated() {
        let created = plan(missing(""), desired(&[("A", "1")]), pruning(true)).unwrap();
        assert!(created.creates && created.applies);
        let updated = plan(existing(&[]), desired(&[("A", "1")]), pruning(true)).unwrap();
        assert!(!updated.creates && updated.applies);
        assert_eq!(
            updated.add,
            names(&["A"]),
            "an existing secret without keys is still updated"
        );
    }

    #[test]
    fn a_dry_run_sends_nothing_and_checks_the_environment_of_a_missing_secret_only() {
        let dry = Options {
            prune: true,
            dry_run: true,
        };
        let new = plan(missing("dev"), desired(&[("A", "1")]), dry).unwrap();
        assert!(new.creates && !new.applies && new.probe_environment);
        let old = plan(existing(&["A"]), desired(&[("A", "1")]), dry).unwrap();
        assert!(!old.creates && !old.applies && !old.probe_environment);
        // A real run's create reports a missing environment itself.
        let real = plan(missing("dev"), desired(&[("A", "1")]), pruning(true)).unwrap();
        assert!(!real.probe_environment);
        // The plan is the same either way.
        assert_eq!((new.add, new.updates.len()), (real.add, real.updates.len()));
    }

    #[test]
    fn the_environment_named_is_the_secrets_own_else_the_clients_else_none() {
        let source = || desired(&[("A", "1")]);
        let found = Target::Existing {
            keys: names(&["A"]),
            environment_name: "main".to_owned(),
        };
        assert_eq!(
            plan(found, source(), pruning(false))
                .unwrap()
                .environment_name
                .as_deref(),
            Some("main")
        );
        assert_eq!(
            plan(missing("dev"), source(), pruning(false))
                .unwrap()
                .environment_name
                .as_deref(),
            Some("dev")
        );
        assert_eq!(
            plan(missing(""), source(), pruning(false))
                .unwrap()
                .environment_name,
            None
        );
        let unnamed = Target::Existing {
            keys: Vec::new(),
            environment_name: String::new(),
        };
        assert_eq!(
            plan(unnamed, source(), pruning(false))
                .unwrap()
                .environment_name,
            None
        );
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
            let target = Target::Existing { keys: current.keys().cloned().collect(), environment_name: "main".into() };
            let plan = plan(target, source.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(), pruning(prune)).unwrap();
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
            let first = plan(Target::Existing { keys: current.iter().cloned().collect(), environment_name: "main".into() }, source.clone().into_iter().map(|(k, v)| (k, Some(v))).collect(), pruning(prune)).unwrap();
            let again = plan(Target::Existing { keys: first.keys_after(), environment_name: "main".into() }, source.clone().into_iter().map(|(k, v)| (k, Some(v))).collect(), pruning(prune)).unwrap();
            prop_assert!(again.add.is_empty() && again.remove.is_empty());
            prop_assert_eq!(again.set, source.keys().cloned().collect::<Vec<_>>());
        }
    }
}
