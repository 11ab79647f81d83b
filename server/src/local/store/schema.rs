//! The store's schema: the tables, and the append-only list of migrations that takes any store
//! this server ever wrote to the current version at open, in one transaction with finding the
//! store's key (`keys.rs`).

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::keys::{self, JWT_KEY_SEALED, meta, set_meta};
use super::{Result, StoreError};
use crate::local::sealing::{JWT_KEY_AAD, ValueKey, value_aad};

/// One step of the schema: SQL, then (if the step needs it) code run in the same transaction with
/// the store's key.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Transaction<'_>, &ValueKey) -> Result<()>>,
}

/// `MIGRATIONS[v]` takes a store from schema version `v` to `v + 1` (`PRAGMA user_version`).
/// Append only: a released step is never edited, so every old store follows the same path.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: SCHEMA_V1,
        then: None,
    },
    Migration {
        sql: SCHEMA_V2,
        then: Some(seal_v1_values),
    },
    Migration {
        sql: SCHEMA_V3,
        then: None,
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const SCHEMA_V1: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE workspaces (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE environments (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE tokens (
    token_id      TEXT PRIMARY KEY,
    secret_sha256 BLOB NOT NULL,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at_us INTEGER NOT NULL
) WITHOUT ROWID;

-- name is NULL for an ephemeral secret. created_at_us is unique across the store: clients page
-- through lists using the last item's created_at as the next strict upper bound.
CREATE TABLE secrets (
    id              TEXT PRIMARY KEY,
    environment_id  INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name            TEXT,
    created_at_us   INTEGER NOT NULL UNIQUE,
    created_by      TEXT NOT NULL,
    last_used_at_us INTEGER NOT NULL DEFAULT 0,
    UNIQUE (environment_id, name)
);
CREATE INDEX secrets_by_age ON secrets (environment_id, created_at_us);

CREATE TABLE secret_values (
    secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (secret_id, key)
) WITHOUT ROWID;
";

/// Version 2: values sealed (`sealed_values` replaces `secret_values`, see [`seal_v1_values`]).
const SCHEMA_V2: &str = "
CREATE TABLE sealed_values (
    secret_id TEXT NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    sealed    BLOB NOT NULL,
    PRIMARY KEY (secret_id, key)
) WITHOUT ROWID;
";

/// Version 3: each workspace's stored bytes (keys and sealed values of all its secrets), kept by
/// triggers on every write path, for `--workspace-quota-bytes`. Deleting a secret subtracts its
/// values before they go (the cascade's own deletes then find no secret and change nothing).
const SCHEMA_V3: &str = "
ALTER TABLE workspaces ADD COLUMN stored_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET stored_bytes = (
    SELECT COALESCE(SUM(length(CAST(v.key AS BLOB)) + length(v.sealed)), 0)
    FROM sealed_values v JOIN secrets s ON s.id = v.secret_id
    JOIN environments e ON e.id = s.environment_id
    WHERE e.workspace_id = workspaces.id);
CREATE TRIGGER sealed_values_added AFTER INSERT ON sealed_values BEGIN
    UPDATE workspaces SET stored_bytes = stored_bytes
        + length(CAST(NEW.key AS BLOB)) + length(NEW.sealed)
    WHERE id = (SELECT e.workspace_id FROM secrets s JOIN environments e
                ON e.id = s.environment_id WHERE s.id = NEW.secret_id);
END;
CREATE TRIGGER sealed_values_removed AFTER DELETE ON sealed_values BEGIN
    UPDATE workspaces SET stored_bytes = stored_bytes
        - length(CAST(OLD.key AS BLOB)) - length(OLD.sealed)
    WHERE id = (SELECT e.workspace_id FROM secrets s JOIN environments e
                ON e.id = s.environment_id WHERE s.id = OLD.secret_id);
END;
CREATE TRIGGER sealed_values_changed AFTER UPDATE ON sealed_values BEGIN
    UPDATE workspaces SET stored_bytes = stored_bytes
        - length(CAST(OLD.key AS BLOB)) - length(OLD.sealed)
    WHERE id = (SELECT e.workspace_id FROM secrets s JOIN environments e
                ON e.id = s.environment_id WHERE s.id = OLD.secret_id);
    UPDATE workspaces SET stored_bytes = stored_bytes
        + length(CAST(NEW.key AS BLOB)) + length(NEW.sealed)
    WHERE id = (SELECT e.workspace_id FROM secrets s JOIN environments e
                ON e.id = s.environment_id WHERE s.id = NEW.secret_id);
END;
CREATE TRIGGER secret_removed BEFORE DELETE ON secrets BEGIN
    UPDATE workspaces SET stored_bytes = stored_bytes - (
        SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(sealed)), 0)
        FROM sealed_values WHERE secret_id = OLD.id)
    WHERE id = (SELECT workspace_id FROM environments WHERE id = OLD.environment_id);
END;
";

/// Version 1 kept the token signing key in the clear under this name; version 2 seals it.
const JWT_KEY_V1: &str = "jwt_hmac_key";

/// What [`migrate`] found or made.
pub(super) struct Opened {
    pub(super) key: ValueKey,
    pub(super) check: Vec<u8>,
    pub(super) jwt_key: [u8; 32],
    /// Plaintext values of a version 1 store were sealed just now.
    pub(super) sealed_plaintext: bool,
}

/// Brings the schema to [`SCHEMA_VERSION`] and finds the store's key, in one transaction (so two
/// processes opening a fresh store at once do not both create it).
pub(super) fn migrate(conn: &mut Connection, key_path: &Path) -> Result<Opened> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(StoreError::NewerSchema {
            found,
            known: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    // A store at version 2 or later is sealed: its key must be found. An older or new one takes
    // the key file's key, or a new one.
    let key = keys::key_at_open(&tx, start >= 2, key_path)?;
    let plaintext_values = start == 1 && {
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM secret_values", [], |row| row.get(0))?;
        n > 0
    };
    for step in &MIGRATIONS[start..] {
        tx.execute_batch(step.sql)?;
        if let Some(then) = step.then {
            then(&tx, &key)?;
        }
    }
    let check = keys::recorded_check(&tx, &key)?;
    let jwt_key = keys::jwt_key_at_open(&tx, &key)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(Opened {
        key,
        check,
        jwt_key,
        sealed_plaintext: plaintext_values,
    })
}

/// Version 1 to 2: every value sealed into `sealed_values`, the plaintext table dropped (its pages
/// zeroed: connections run with `secure_delete`), the token signing key sealed.
fn seal_v1_values(tx: &Transaction<'_>, key: &ValueKey) -> Result<()> {
    {
        let mut read = tx.prepare("SELECT secret_id, key, value FROM secret_values")?;
        let mut write =
            tx.prepare("INSERT INTO sealed_values (secret_id, key, sealed) VALUES (?1, ?2, ?3)")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let secret_id: String = row.get(0)?;
            let name: String = row.get(1)?;
            let value = zeroize::Zeroizing::new(row.get::<_, String>(2)?);
            let sealed = key.seal(&value_aad(&secret_id, &name), value.as_bytes())?;
            write.execute(params![secret_id, name, sealed])?;
        }
    }
    tx.execute_batch("DROP TABLE secret_values;")?;
    if let Some(plain) = meta(tx, JWT_KEY_V1)? {
        let plain = zeroize::Zeroizing::new(plain);
        set_meta(tx, JWT_KEY_SEALED, &key.seal(JWT_KEY_AAD, &plain)?)?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [JWT_KEY_V1])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::testing::user_version;
    use super::super::{DB_FILE, GetOrCreate, Store, create_private_file, lock};
    use super::*;
    use crate::local::ids;

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    }

    #[test]
    fn migrates_an_empty_file_and_sets_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(user_version(&store), SCHEMA_VERSION);
        let sync: i64 = lock(&store.writer)
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
    }

    /// Every byte of the database and its WAL: what a copy of the store without its key shows.
    fn raw_store(dir: &Path) -> Vec<u8> {
        let mut bytes = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = DB_FILE.to_owned();
            name.push_str(suffix);
            if let Ok(b) = std::fs::read(dir.join(name)) {
                bytes.extend(b);
            }
        }
        bytes
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn migrates_a_plaintext_store_and_seals_it() {
        let dir = tempfile::tempdir().unwrap();
        let token_secret = "as-0123456789abcdefghijklmnopqrstuv";
        let jwt_plain = [7u8; 32];
        {
            // A version 1 store, as the previous release wrote it.
            let conn = open_connection_v1(&dir.path().join(DB_FILE));
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![JWT_KEY_V1, jwt_plain.as_slice()],
            )
            .unwrap();
            conn.execute_batch(
                "INSERT INTO workspaces (id, name, created_at_us) VALUES (1, 'w', 1);
                 INSERT INTO environments (id, workspace_id, name, created_at_us)
                   VALUES (1, 1, 'main', 1);
                 INSERT INTO secrets (id, environment_id, name, created_at_us, created_by)
                   VALUES ('st-aaaaaaaaaaaaaaaaaaaaaa', 1, 'db', 5, 'w'),
                          ('st-bbbbbbbbbbbbbbbbbbbbbb', 1, 'api', 6, 'w');
                 INSERT INTO secret_values (secret_id, key, value) VALUES
                   ('st-aaaaaaaaaaaaaaaaaaaaaa', 'PASSWORD', 'plaintext-password-4242'),
                   ('st-aaaaaaaaaaaaaaaaaaaaaa', 'USER', 'plaintext-user-4242'),
                   ('st-bbbbbbbbbbbbbbbbbbbbbb', 'TOKEN', 'plaintext-token-4242');",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO tokens (token_id, secret_sha256, workspace_id, created_at_us)
                 VALUES ('ak-cccccccccccccccccccccc', ?1, 1, 1)",
                [ids::hash_token_secret(token_secret).as_slice()],
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        assert!(contains(&raw_store(dir.path()), "plaintext-password-4242"));

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(user_version(&store), SCHEMA_VERSION);
        // The same values, keys, tokens and token signing key, now sealed.
        let a = store.reveal_values("st-aaaaaaaaaaaaaaaaaaaaaa").unwrap();
        assert_eq!(
            a,
            BTreeMap::from([
                ("PASSWORD".to_owned(), "plaintext-password-4242".to_owned()),
                ("USER".to_owned(), "plaintext-user-4242".to_owned()),
            ])
        );
        let b = store.reveal_values("st-bbbbbbbbbbbbbbbbbbbbbb").unwrap();
        assert_eq!(b["TOKEN"], "plaintext-token-4242");
        assert_eq!(*store.jwt_key(), jwt_plain);
        let token = store.token("ak-cccccccccccccccccccccc").unwrap().unwrap();
        assert_eq!(token.secret_sha256, ids::hash_token_secret(token_secret));
        let ws = token.workspace;
        let (_, meta) = store
            .get_or_create(&ws, "", "db", GetOrCreate::Lookup, &[])
            .unwrap();
        assert_eq!(meta.keys, ["PASSWORD", "USER"]);
        drop(store);

        // Not a trace of a value, or of the signing key, in the database file or its WAL.
        let raw = raw_store(dir.path());
        for plain in [
            "plaintext-password-4242",
            "plaintext-user-4242",
            "plaintext-token-4242",
        ] {
            assert!(!contains(&raw, plain), "{plain} left in the store");
        }
        assert!(!raw.windows(32).any(|w| w == jwt_plain));
        // Opening again changes nothing.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reveal_values("st-aaaaaaaaaaaaaaaaaaaaaa").unwrap(), a);
    }

    /// A connection as version 1 opened them (no secure_delete).
    fn open_connection_v1(path: &Path) -> Connection {
        create_private_file(path).unwrap();
        Connection::open(path).unwrap()
    }
}
