//! The store's key: finding it at open (the key file, or the new key of a rotation cut short),
//! the check value that tells whether a key is this store's, the token signing key sealed with it,
//! and key rotation (`key rotate`). The key file itself is `local/sealing.rs`'s.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, Sealing, Store, StoreError, lock};
use crate::local::ids;
use crate::local::sealing::{self, JWT_KEY_AAD, ValueKey, value_aad};

/// The token signing key, sealed with the store's key (version 2 on).
pub(super) const JWT_KEY_SEALED: &str = "jwt_hmac_key_sealed";
/// The values key's check value (`ValueKey::check_value`): which key the store is sealed with.
const KEY_CHECK: &str = "values_key_check";

impl Store {
    /// The key to seal with inside write transaction `tx` (or to open with on a read connection):
    /// the one in memory, unless `meta` says the store was re-sealed since (a `key rotate` beside
    /// the server), then the key file's.
    pub(super) fn sealing_key(&self, conn: &Connection) -> Result<Arc<ValueKey>> {
        let check = key_check(conn)?
            .ok_or_else(|| StoreError::Damaged("the store has no key check value".to_owned()))?;
        let mut sealing = lock(&self.sealing);
        if sealing.check != check {
            let key = find_key(&self.key_path, &check)?;
            *sealing = Sealing {
                key: Arc::new(key),
                check,
            };
        }
        Ok(Arc::clone(&sealing.key))
    }

    /// Key rotation: every value and the token signing key re-sealed under a new key in one
    /// transaction, then the new key moved into the key file. Returns how many values were
    /// re-sealed. The new key is written to `KEYFILE.new` first; if the process dies after the
    /// commit and before the move, the next open finds it there and finishes the move. A server
    /// running on the store meanwhile notices at its next write and reads the new key.
    pub fn rotate_key(&self) -> Result<usize> {
        let key_error = |e: sealing::KeyFileError| StoreError::Key(e.to_string());
        let new_key = ValueKey::generate()?;
        let new_check = new_key.check_value()?;
        let pending = sealing::pending_path(&self.key_path);
        sealing::replace_key_file(&pending, &new_key).map_err(key_error)?;
        let resealed = self.write(|tx| {
            let old_key = self.sealing_key(tx)?;
            let rows = tx
                .prepare("SELECT secret_id, key, sealed FROM sealed_values")?
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut update = tx.prepare(
                "UPDATE sealed_values SET sealed = ?3 WHERE secret_id = ?1 AND key = ?2",
            )?;
            for (secret_id, name, sealed) in &rows {
                let aad = value_aad(secret_id, name);
                let value = old_key
                    .open(&aad, sealed)
                    .map_err(|_| damaged_value(secret_id, name))?;
                update.execute(params![secret_id, name, new_key.seal(&aad, &value)?])?;
            }
            let jwt: Vec<u8> = tx.query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [JWT_KEY_SEALED],
                |row| row.get(0),
            )?;
            let jwt = old_key.open(JWT_KEY_AAD, &jwt).map_err(|_| {
                StoreError::Damaged(
                    "the store's token signing key does not open with its key".to_owned(),
                )
            })?;
            set_meta(tx, JWT_KEY_SEALED, &new_key.seal(JWT_KEY_AAD, &jwt)?)?;
            set_meta(tx, KEY_CHECK, &new_check)?;
            Ok(rows.len())
        });
        let resealed = match resealed {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&pending);
                return Err(e);
            }
        };
        match sealing::move_key_file(&pending, &self.key_path) {
            Ok(()) => {}
            // A server on this store read the new key first and moved it itself.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Key(format!(
                    "the store is now sealed with a new key, left in {} because it could not \
                     be moved to {}: {e}. Move it there by hand",
                    pending.display(),
                    self.key_path.display()
                )));
            }
        }
        *lock(&self.sealing) = Sealing {
            key: Arc::new(new_key),
            check: new_check,
        };
        // Old sealed pages out of the WAL, as after the migration.
        let _ = lock(&self.writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        Ok(resealed)
    }
}

pub(super) fn damaged_value(secret_id: &str, key: &str) -> StoreError {
    StoreError::Damaged(format!(
        "the value of key {key:?} of secret {secret_id} does not open with the store's key \
         (damaged)"
    ))
}

pub(super) fn set_meta(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

/// The value of `name` in `meta`, if it is there.
pub(super) fn meta(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?)
}

/// The check value of the key the store is sealed with (`None` before version 2).
fn key_check(conn: &Connection) -> Result<Option<Vec<u8>>> {
    meta(conn, KEY_CHECK)
}

/// The key for a store that has none yet: the key file's, or a new one written there.
fn key_for_new_store(key_path: &Path) -> Result<ValueKey> {
    let read =
        |path: &Path| sealing::read_key_file(path).map_err(|e| StoreError::Key(e.to_string()));
    if let Some(key) = read(key_path)? {
        return Ok(key);
    }
    let key = ValueKey::generate()?;
    if sealing::create_key_file(key_path, &key).map_err(|e| StoreError::Key(e.to_string()))? {
        return Ok(key);
    }
    // Another process made the file first: use its key.
    read(key_path)?
        .ok_or_else(|| StoreError::Key(format!("key file {} vanished", key_path.display())))
}

/// The key that made `check`: the key file's, or else that of a rotation that re-sealed the store
/// but did not get to move its new key into place (`PATH.new`; moved now).
fn find_key(key_path: &Path, check: &[u8]) -> Result<ValueKey> {
    let read =
        |path: &Path| sealing::read_key_file(path).map_err(|e| StoreError::Key(e.to_string()));
    let current = read(key_path)?;
    let exists = current.is_some();
    if let Some(key) = current.filter(|k| k.matches(check)) {
        return Ok(key);
    }
    let pending_path = sealing::pending_path(key_path);
    if let Some(pending) = read(&pending_path)?.filter(|k| k.matches(check)) {
        match sealing::move_key_file(&pending_path, key_path) {
            Ok(()) => {}
            // The rotation itself moved it meanwhile; either way the key is known.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Key(format!(
                    "key file {}: {e}",
                    key_path.display()
                )));
            }
        }
        return Ok(pending);
    }
    Err(StoreError::Key(if !exists {
        format!(
            "the store's values are sealed with a key kept in {}, which does not exist; restore \
             that file (or pass --key-file with the path of this store's key). Without it no \
             value in the store can be read",
            key_path.display()
        )
    } else {
        format!(
            "the key in {} is not this store's key (it belongs to another store, or the store \
             was re-sealed by `key rotate` with another key file); pass --key-file with this \
             store's key. With the wrong key no value in the store can be read",
            key_path.display()
        )
    }))
}

/// The store's key at open: for a sealed store (version 2 on), the key that made its check value
/// ([`find_key`]); for an older or new one, the key file's, or a new one ([`key_for_new_store`]).
pub(super) fn key_at_open(tx: &Transaction<'_>, sealed: bool, key_path: &Path) -> Result<ValueKey> {
    match if sealed { key_check(tx)? } else { None } {
        Some(check) => find_key(key_path, &check),
        None => key_for_new_store(key_path),
    }
}

/// The check value recorded in `meta`, recording `key`'s if there is none yet.
pub(super) fn recorded_check(tx: &Transaction<'_>, key: &ValueKey) -> Result<Vec<u8>> {
    Ok(match key_check(tx)? {
        Some(check) => check,
        None => {
            let check = key.check_value()?;
            set_meta(tx, KEY_CHECK, &check)?;
            check
        }
    })
}

/// The token signing key in `meta`, opened with `key`; a new one, sealed and recorded, if there is
/// none yet.
pub(super) fn jwt_key_at_open(tx: &Transaction<'_>, key: &ValueKey) -> Result<[u8; 32]> {
    Ok(match meta(tx, JWT_KEY_SEALED)? {
        Some(sealed) => {
            let opened = key.open(JWT_KEY_AAD, &sealed).map_err(|_| {
                StoreError::Damaged(
                    "the store's token signing key does not open with its key".to_owned(),
                )
            })?;
            <[u8; 32]>::try_from(opened.as_slice()).map_err(|_| {
                StoreError::Damaged("the store's token signing key is damaged".to_owned())
            })?
        }
        None => {
            let jwt_key = ids::random_bytes::<32>()?;
            set_meta(tx, JWT_KEY_SEALED, &key.seal(JWT_KEY_AAD, &jwt_key)?)?;
            jwt_key
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::KEY_FILE;
    use super::super::testing::{create, fresh, sealed_column, ws};
    use super::*;

    #[test]
    fn a_missing_or_wrong_key_is_refused() {
        let (dir, store, ws) = fresh();
        create(&store, &ws, "x", &[("A", "1")]);
        drop(store);
        let key_path = dir.path().join(KEY_FILE);
        let saved = std::fs::read(&key_path).unwrap();

        std::fs::remove_file(&key_path).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Key(_)), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        // Nothing was made in its place.
        assert!(!key_path.exists());

        // Another store's key.
        let other = tempfile::tempdir().unwrap();
        drop(Store::open(other.path()).unwrap());
        std::fs::copy(other.path().join(KEY_FILE), &key_path).unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not this store's key"), "{err}");

        // A damaged key file.
        std::fs::write(&key_path, "hello").unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is not a store key"), "{err}");

        std::fs::write(&key_path, &saved).unwrap();
        drop(Store::open(dir.path()).unwrap());
    }

    #[test]
    fn key_file_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let keys = tempfile::tempdir().unwrap();
        let key_path = keys.path().join("k");
        let store = Store::open_with_key_file(dir.path(), &key_path).unwrap();
        let ws = ws(&store);
        let id = create(&store, &ws, "x", &[("A", "elsewhere-value")]);
        drop(store);
        assert!(key_path.exists());
        assert!(!dir.path().join(KEY_FILE).exists());
        // The default path finds no key: refused, not a new key.
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Key(_))));
        let store = Store::open_with_key_file(dir.path(), &key_path).unwrap();
        assert_eq!(store.reveal_values(&id).unwrap()["A"], "elsewhere-value");
    }

    #[test]
    fn rotation_reseals_everything() {
        let (dir, store, ws) = fresh();
        let ids: Vec<String> = (0..20)
            .map(|i| {
                create(
                    &store,
                    &ws,
                    &format!("s{i}"),
                    &[("A", &format!("a{i}")), ("B", "b")],
                )
            })
            .collect();
        let key_path = dir.path().join(KEY_FILE);
        let old_key = std::fs::read(&key_path).unwrap();
        let sealed_before = sealed_column(&store);
        let jwt = *store.jwt_key();

        assert_eq!(store.rotate_key().unwrap(), 40);
        let new_key = std::fs::read(&key_path).unwrap();
        assert_ne!(old_key, new_key);
        assert!(!sealing::pending_path(&key_path).exists());
        let sealed_after = sealed_column(&store);
        assert_eq!(sealed_before.len(), sealed_after.len());
        assert!(sealed_before.iter().zip(&sealed_after).all(|(a, b)| a != b));
        // Writes after the rotation use the new key too.
        store
            .update(&ws, &ids[0], &[("C".into(), Some("c".into()))])
            .unwrap();
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(*store.jwt_key(), jwt, "issued tokens stay valid");
        for (i, id) in ids.iter().enumerate() {
            let values = store.reveal_values(id).unwrap();
            assert_eq!(values["A"], format!("a{i}"));
            assert_eq!(values["B"], "b");
        }
        assert_eq!(store.reveal_values(&ids[0]).unwrap()["C"], "c");
        drop(store);
        // The old key opens nothing any more.
        std::fs::write(&key_path, &old_key).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Key(_))));
    }

    #[test]
    fn a_rotation_cut_short_is_finished_at_open() {
        let (dir, store, ws) = fresh();
        let id = create(&store, &ws, "x", &[("A", "1")]);
        let key_path = dir.path().join(KEY_FILE);
        let old_key = std::fs::read(&key_path).unwrap();
        store.rotate_key().unwrap();
        drop(store);
        // As if the process died after the commit and before moving the new key into place.
        let pending = sealing::pending_path(&key_path);
        std::fs::rename(&key_path, &pending).unwrap();
        std::fs::write(&key_path, &old_key).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reveal_values(&id).unwrap()["A"], "1");
        assert!(!pending.exists());
        drop(store);
        // A stale .new from a rotation that never committed is ignored.
        let stale = ValueKey::generate().unwrap();
        sealing::replace_key_file(&pending, &stale).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reveal_values(&id).unwrap()["A"], "1");
    }

    #[test]
    fn a_second_handle_notices_a_rotation() {
        // As a server does when `key rotate` runs beside it.
        let (dir, server, ws) = fresh();
        let id = create(&server, &ws, "x", &[("A", "1")]);
        let tool = Store::open(dir.path()).unwrap();
        tool.rotate_key().unwrap();
        drop(tool);
        server
            .update(&ws, &id, &[("B".into(), Some("2".into()))])
            .unwrap();
        drop(server);
        let store = Store::open(dir.path()).unwrap();
        let values = store.reveal_values(&id).unwrap();
        assert_eq!((values["A"].as_str(), values["B"].as_str()), ("1", "2"));
    }
}
