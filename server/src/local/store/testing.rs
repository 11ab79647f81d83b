//! What the store's unit tests share: a fresh store with a workspace, secrets made in it, and a
//! look at the raw tables.

use std::collections::BTreeMap;

use super::{GetOrCreate, Store, Workspace, lock};

/// A store in a new temporary directory (kept alive by the first element).
pub fn fresh() -> (tempfile::TempDir, Store, Workspace) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ws = ws(&store);
    (dir, store, ws)
}

/// Workspace `w` of `store`, made with a token.
pub fn ws(store: &Store) -> Workspace {
    let token = store.create_token("w").unwrap();
    store.token(&token.token_id).unwrap().unwrap().workspace
}

pub fn dict(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Creates secret `name` in the default environment (CREATE_FAIL_IF_EXISTS); returns its id.
pub fn create(store: &Store, ws: &Workspace, name: &str, pairs: &[(&str, &str)]) -> String {
    store
        .get_or_create(
            ws,
            "",
            name,
            GetOrCreate::CreateFailIfExists(dict(pairs)),
            &[],
        )
        .unwrap()
        .0
}

/// Every sealed value as stored, in a fixed order.
pub fn sealed_column(store: &Store) -> Vec<Vec<u8>> {
    lock(&store.writer)
        .prepare("SELECT sealed FROM sealed_values ORDER BY secret_id, key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The schema version in the file (`PRAGMA user_version`).
pub fn user_version(store: &Store) -> i64 {
    lock(&store.writer)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}
