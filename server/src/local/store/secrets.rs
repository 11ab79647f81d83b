//! The secrets: SecretGetOrCreate (lookup and the three creating types, and ephemeral secrets),
//! SecretList, SecretGetInfo, SecretDelete, SecretUpdate, the sweep of expired ephemeral secrets,
//! and the limits on what secrets hold (keys and bytes per secret, secrets per environment, bytes
//! per workspace). Values are sealed on the way in and never read back, except by
//! [`Store::reveal_values`] for tools and tests.

use std::collections::BTreeMap;

use modal_secrets_core::proto::{CreationInfo, SecretListItem, SecretMetadata};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::keys::damaged_value;
use super::tokens::{Environment, environment_of};
use super::{Result, Store, StoreError, Workspace};
use crate::clock::{self, us_to_secs};
use crate::limits::{
    LIST_PAGE_BYTES, MAX_KEY_NAME_BYTES_PER_SECRET, MAX_KEYS_PER_SECRET, MAX_SECRET_BYTES,
};
use crate::local::ids;
use crate::local::sealing::{self, ValueKey, value_aad};

/// What a SecretGetOrCreate asks for, already validated.
#[derive(Debug)]
pub enum GetOrCreate {
    Lookup,
    CreateIfMissing(BTreeMap<String, String>),
    CreateFailIfExists(BTreeMap<String, String>),
    CreateOverwriteIfExists(BTreeMap<String, String>),
}

/// One key's change in a SecretUpdate: `Some` sets, `None` removes.
pub type KeyUpdate = (String, Option<String>);

impl Store {
    /// Sets the most bytes of keys and sealed values one workspace may hold.
    pub fn set_workspace_quota(&self, bytes: u64) {
        self.workspace_quota
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Bytes of keys and sealed values the workspace holds now.
    pub fn workspace_bytes(&self, ws: &Workspace) -> Result<u64> {
        self.read(|conn| stored_bytes(conn, ws))
    }

    /// Refuses a write that left the workspace past its quota (and larger than before it).
    fn check_quota(&self, tx: &Transaction<'_>, ws: &Workspace, before: u64) -> Result<()> {
        let quota = self
            .workspace_quota
            .load(std::sync::atomic::Ordering::Relaxed);
        let after = stored_bytes(tx, ws)?;
        if after > quota && after > before {
            return Err(StoreError::LimitReached(format!(
                "workspace '{}' would hold {after} bytes of keys and values, past its quota of \
                 {quota} bytes (--workspace-quota-bytes); delete some first",
                ws.name
            )));
        }
        Ok(())
    }

    /// Lowers the number of secrets an environment may hold (tests of the limit).
    pub fn set_max_secrets_per_environment(&self, max: usize) {
        self.max_secrets
            .store(max, std::sync::atomic::Ordering::Relaxed);
    }

    fn max_secrets(&self) -> usize {
        self.max_secrets.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// SecretGetOrCreate for a named secret. Returns the id and metadata.
    pub fn get_or_create(
        &self,
        ws: &Workspace,
        environment: &str,
        name: &str,
        action: GetOrCreate,
        required_keys: &[String],
    ) -> Result<(String, SecretMetadata)> {
        let env_dict = match action {
            GetOrCreate::Lookup => {
                return self.read(|conn| {
                    let env = environment_of(conn, ws, environment)?;
                    let row = secret_by_name(conn, &env, name)?.ok_or_else(|| {
                        StoreError::NotFound(format!(
                            "Secret '{name}' not found in environment '{}'",
                            env.name
                        ))
                    })?;
                    let metadata = metadata(conn, &row)?;
                    check_required(&metadata, required_keys)?;
                    Ok((row.id, metadata))
                });
            }
            GetOrCreate::CreateIfMissing(ref d)
            | GetOrCreate::CreateFailIfExists(ref d)
            | GetOrCreate::CreateOverwriteIfExists(ref d) => d,
        };
        self.write(|tx| {
            let before = stored_bytes(tx, ws)?;
            let env = environment_of(tx, ws, environment)?;
            let existing = secret_by_name(tx, &env, name)?;
            let row = match (existing, &action) {
                (Some(row), GetOrCreate::CreateIfMissing(_)) => row,
                (Some(_), GetOrCreate::CreateFailIfExists(_)) => {
                    return Err(StoreError::AlreadyExists(format!(
                        "Secret '{name}' already exists in environment '{}'",
                        env.name
                    )));
                }
                (Some(row), _) => {
                    let key = self.sealing_key(tx)?;
                    tx.prepare_cached("DELETE FROM sealed_values WHERE secret_id = ?1")?
                        .execute([&row.id])?;
                    insert_values(tx, &key, &row.id, env_dict)?;
                    row
                }
                (None, _) => {
                    let key = self.sealing_key(tx)?;
                    insert_secret(tx, self.max_secrets(), &key, ws, &env, Some(name), env_dict)?
                }
            };
            self.check_quota(tx, ws, before)?;
            let metadata = metadata(tx, &row)?;
            check_required(&metadata, required_keys)?;
            Ok((row.id, metadata))
        })
    }

    /// SecretGetOrCreate with EPHEMERAL: a new nameless secret, never listed.
    pub fn create_ephemeral(
        &self,
        ws: &Workspace,
        environment: &str,
        env_dict: &BTreeMap<String, String>,
    ) -> Result<(String, SecretMetadata)> {
        self.write(|tx| {
            let before = stored_bytes(tx, ws)?;
            let env = environment_of(tx, ws, environment)?;
            let key = self.sealing_key(tx)?;
            let row = insert_secret(tx, self.max_secrets(), &key, ws, &env, None, env_dict)?;
            self.check_quota(tx, ws, before)?;
            Ok((row.id.clone(), metadata(tx, &row)?))
        })
    }

    /// SecretList: named secrets of one environment, newest first, created strictly before
    /// `before_us` (if given), at most `max` of them. Returns the environment's name too.
    pub fn list(
        &self,
        ws: &Workspace,
        environment: &str,
        max: usize,
        before_us: Option<i64>,
    ) -> Result<(String, Vec<SecretListItem>)> {
        self.read(|conn| {
            let env = environment_of(conn, ws, environment)?;
            let mut stmt = conn.prepare_cached(
                "SELECT id, name, created_at_us, created_by, last_used_at_us FROM secrets
                 WHERE environment_id = ?1 AND name IS NOT NULL AND created_at_us < ?2
                 ORDER BY created_at_us DESC LIMIT ?3",
            )?;
            // No more rows than could fit in a page (an item is at least 50 bytes).
            let limit = i64::try_from(max.min(LIST_PAGE_BYTES / 50)).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(
                    params![env.id, before_us.unwrap_or(i64::MAX), limit],
                    |row| secret_row(row, env.name.clone()),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let mut items = Vec::with_capacity(rows.len());
            // The answer's own fields (the environment's name) beside its items.
            let mut bytes = 2 + env.name.len();
            for row in rows {
                let metadata = metadata(conn, &row)?;
                let item = SecretListItem {
                    label: metadata.name.clone(),
                    created_at: us_to_secs(row.created_at_us),
                    last_used_at: us_to_secs(row.last_used_at_us),
                    environment_name: env.name.clone(),
                    secret_id: row.id,
                    metadata: Some(metadata),
                };
                // As a repeated field: its tag, its length, itself.
                let len = item.encoded_len();
                let len = len + 1 + prost::encoding::encoded_len_varint(len as u64);
                if !items.is_empty() && bytes + len > LIST_PAGE_BYTES {
                    // A short page: the client pages on from the last item's created_at.
                    break;
                }
                bytes += len;
                items.push(item);
            }
            Ok((env.name, items))
        })
    }

    /// SecretGetInfo.
    pub fn info(&self, ws: &Workspace, secret_id: &str) -> Result<SecretMetadata> {
        self.read(|conn| {
            let row = secret_by_id(conn, ws, secret_id)?;
            metadata(conn, &row)
        })
    }

    /// SecretDelete.
    pub fn delete(&self, ws: &Workspace, secret_id: &str) -> Result<()> {
        self.write(|tx| {
            let row = secret_by_id(tx, ws, secret_id)?;
            tx.prepare_cached("DELETE FROM secrets WHERE id = ?1")?
                .execute([&row.id])?;
            Ok(())
        })
    }

    /// SecretUpdate: applies the updates in order, then checks the key limit.
    pub fn update(&self, ws: &Workspace, secret_id: &str, updates: &[KeyUpdate]) -> Result<()> {
        self.write(|tx| {
            let before = stored_bytes(tx, ws)?;
            let row = secret_by_id(tx, ws, secret_id)?;
            let sealing_key = self.sealing_key(tx)?;
            for (key, value) in updates {
                match value {
                    Some(value) => {
                        let sealed =
                            sealing_key.seal(&value_aad(&row.id, key), value.as_bytes())?;
                        tx.prepare_cached(
                            "INSERT INTO sealed_values (secret_id, key, sealed) VALUES (?1, ?2, ?3)
                             ON CONFLICT (secret_id, key) DO UPDATE SET sealed = excluded.sealed",
                        )?
                        .execute(params![row.id, key, sealed])?;
                    }
                    None => {
                        tx.prepare_cached(
                            "DELETE FROM sealed_values WHERE secret_id = ?1 AND key = ?2",
                        )?
                        .execute(params![row.id, key])?;
                    }
                }
            }
            let count: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM sealed_values WHERE secret_id = ?1")?
                .query_row([&row.id], |r| r.get(0))?;
            if usize::try_from(count).unwrap_or(usize::MAX) > MAX_KEYS_PER_SECRET {
                return Err(StoreError::Invalid(format!(
                    "env_dict: the update would leave {count} keys in the secret, at most \
                     {MAX_KEYS_PER_SECRET} allowed"
                )));
            }
            let bytes: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(sealed) - ?2), 0)
                     FROM sealed_values WHERE secret_id = ?1",
                )?
                .query_row(params![row.id, sealing::OVERHEAD], |r| r.get(0))?;
            if usize::try_from(bytes).unwrap_or(usize::MAX) > MAX_SECRET_BYTES {
                return Err(StoreError::Invalid(format!(
                    "updates: the update would leave {bytes} bytes of keys and values in the \
                     secret, at most {MAX_SECRET_BYTES} allowed"
                )));
            }
            let names: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(SUM(length(CAST(key AS BLOB))), 0) FROM sealed_values
                     WHERE secret_id = ?1",
                )?
                .query_row([&row.id], |r| r.get(0))?;
            if usize::try_from(names).unwrap_or(usize::MAX) > MAX_KEY_NAME_BYTES_PER_SECRET {
                return Err(StoreError::Invalid(format!(
                    "updates: the update would leave {names} bytes of key names in the secret, at \
                     most {MAX_KEY_NAME_BYTES_PER_SECRET} allowed"
                )));
            }
            self.check_quota(tx, ws, before)?;
            Ok(())
        })
    }

    /// The values of secret `secret_id` (of any workspace), opened. No method of the API returns
    /// values; this is for tools and tests, and shows that the store's key opens its values.
    pub fn reveal_values(&self, secret_id: &str) -> Result<BTreeMap<String, String>> {
        self.read(|conn| {
            let key = self.sealing_key(conn)?;
            let mut stmt =
                conn.prepare_cached("SELECT key, sealed FROM sealed_values WHERE secret_id = ?1")?;
            let rows = stmt
                .query_map([secret_id], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut values = BTreeMap::new();
            for (name, sealed) in rows {
                let opened = key
                    .open(&value_aad(secret_id, &name), &sealed)
                    .map_err(|_| damaged_value(secret_id, &name))?;
                let text = String::from_utf8(opened.to_vec())
                    .map_err(|_| damaged_value(secret_id, &name))?;
                values.insert(name, text);
            }
            Ok(values)
        })
    }

    /// Removes ephemeral secrets created before `cutoff_us`; returns how many.
    pub fn remove_ephemeral_before(&self, cutoff_us: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM secrets WHERE name IS NULL AND created_at_us < ?1")?
                .execute([cutoff_us])?)
        })
    }
}

struct SecretRow {
    id: String,
    name: Option<String>,
    created_at_us: i64,
    created_by: String,
    last_used_at_us: i64,
    environment: String,
}

/// A row whose first columns are `id, name, created_at_us, created_by, last_used_at_us`, as a
/// secret of `environment`.
fn secret_row(row: &rusqlite::Row<'_>, environment: String) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at_us: row.get(2)?,
        created_by: row.get(3)?,
        last_used_at_us: row.get(4)?,
        environment,
    })
}

fn secret_by_name(conn: &Connection, env: &Environment, name: &str) -> Result<Option<SecretRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, name, created_at_us, created_by, last_used_at_us FROM secrets
             WHERE environment_id = ?1 AND name = ?2",
        )?
        .query_row(params![env.id, name], |row| {
            secret_row(row, env.name.clone())
        })
        .optional()?)
}

/// A secret of this workspace by id; another workspace's secret is NOT_FOUND, as a missing one is.
fn secret_by_id(conn: &Connection, ws: &Workspace, secret_id: &str) -> Result<SecretRow> {
    conn.prepare_cached(
        "SELECT s.id, s.name, s.created_at_us, s.created_by, s.last_used_at_us, e.name
         FROM secrets s JOIN environments e ON e.id = s.environment_id
         WHERE s.id = ?1 AND e.workspace_id = ?2",
    )?
    .query_row(params![secret_id, ws.id], |row| {
        secret_row(row, row.get(5)?)
    })
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("Secret '{secret_id}' not found")))
}

/// A new secret with its values, unless its environment already holds `max` secrets.
fn insert_secret(
    tx: &Transaction<'_>,
    max: usize,
    key: &ValueKey,
    ws: &Workspace,
    env: &Environment,
    name: Option<&str>,
    env_dict: &BTreeMap<String, String>,
) -> Result<SecretRow> {
    let held: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT 1 FROM secrets WHERE environment_id = ?1 LIMIT ?2)",
        )?
        .query_row(
            params![env.id, i64::try_from(max).unwrap_or(i64::MAX)],
            |r| r.get(0),
        )?;
    if usize::try_from(held).unwrap_or(usize::MAX) >= max {
        return Err(StoreError::LimitReached(format!(
            "environment '{}' holds {max} secrets, the most allowed; delete some first",
            env.name
        )));
    }
    let id = ids::secret_id()?;
    // Distinct and increasing even when the clock stalls or steps back.
    let latest: Option<i64> = tx
        .prepare_cached("SELECT MAX(created_at_us) FROM secrets")?
        .query_row([], |row| row.get(0))?;
    let created_at_us = match latest {
        Some(latest) if latest >= clock::now_micros() => latest.saturating_add(1),
        _ => clock::now_micros(),
    };
    tx.prepare_cached(
        "INSERT INTO secrets (id, environment_id, name, created_at_us, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, env.id, name, created_at_us, &*ws.name])?;
    insert_values(tx, key, &id, env_dict)?;
    Ok(SecretRow {
        id,
        name: name.map(str::to_owned),
        created_at_us,
        created_by: ws.name.to_string(),
        last_used_at_us: 0,
        environment: env.name.clone(),
    })
}

fn stored_bytes(conn: &Connection, ws: &Workspace) -> Result<u64> {
    let bytes: i64 = conn
        .prepare_cached("SELECT stored_bytes FROM workspaces WHERE id = ?1")?
        .query_row([ws.id], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    Ok(u64::try_from(bytes).unwrap_or(0))
}

fn insert_values(
    tx: &Transaction<'_>,
    sealing_key: &ValueKey,
    secret_id: &str,
    env_dict: &BTreeMap<String, String>,
) -> Result<()> {
    let mut stmt = tx
        .prepare_cached("INSERT INTO sealed_values (secret_id, key, sealed) VALUES (?1, ?2, ?3)")?;
    for (key, value) in env_dict {
        let sealed = sealing_key.seal(&value_aad(secret_id, key), value.as_bytes())?;
        stmt.execute(params![secret_id, key, sealed])?;
    }
    Ok(())
}

fn metadata(conn: &Connection, row: &SecretRow) -> Result<SecretMetadata> {
    let keys = conn
        .prepare_cached("SELECT key FROM sealed_values WHERE secret_id = ?1 ORDER BY key")?
        .query_map([&row.id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(SecretMetadata {
        name: row.name.clone().unwrap_or_default(),
        creation_info: Some(CreationInfo {
            created_at: us_to_secs(row.created_at_us),
            created_by: row.created_by.clone(),
        }),
        keys,
        environment_name: row.environment.clone(),
        last_used_at: us_to_secs(row.last_used_at_us),
        template_type: String::new(),
    })
}

fn check_required(metadata: &SecretMetadata, required: &[String]) -> Result<()> {
    let missing: Vec<&str> = required
        .iter()
        .filter(|k| metadata.keys.binary_search(k).is_err())
        .map(String::as_str)
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(StoreError::MissingKeys(format!(
            "Secret is missing key: {one}"
        ))),
        many => Err(StoreError::MissingKeys(format!(
            "Secret is missing keys: {}",
            many.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{create, dict, fresh};
    use super::*;

    #[test]
    fn created_at_is_distinct_and_increasing() {
        let (_dir, store, ws) = fresh();
        let mut last = 0.0;
        for i in 0..50 {
            let id = create(&store, &ws, &format!("s{i}"), &[("A", "1")]);
            let at = store
                .info(&ws, &id)
                .unwrap()
                .creation_info
                .unwrap()
                .created_at;
            assert!(at > last);
            last = at;
        }
    }

    #[test]
    fn ephemeral_cleanup() {
        let (_dir, store, ws) = fresh();
        let (id, meta) = store
            .create_ephemeral(&ws, "", &dict(&[("A", "1")]))
            .unwrap();
        assert_eq!(meta.name, "");
        assert_eq!(store.list(&ws, "", 100, None).unwrap().1.len(), 0);
        assert_eq!(store.remove_ephemeral_before(0).unwrap(), 0);
        assert_eq!(store.remove_ephemeral_before(i64::MAX).unwrap(), 1);
        assert!(matches!(store.info(&ws, &id), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn environments_and_update() {
        let (_dir, store, ws) = fresh();
        store.create_environment("w", "dev").unwrap();
        assert!(matches!(
            store.create_environment("w", "dev"),
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(store.environments("w").unwrap(), ["dev", "main"]);
        let (id, _) = store
            .get_or_create(
                &ws,
                "dev",
                "x",
                GetOrCreate::CreateIfMissing(dict(&[("A", "1"), ("B", "2")])),
                &[],
            )
            .unwrap();
        store
            .update(
                &ws,
                &id,
                &[("A".into(), None), ("C".into(), Some("3".into()))],
            )
            .unwrap();
        let meta = store.info(&ws, &id).unwrap();
        assert_eq!(meta.keys, ["B", "C"]);
        assert_eq!(meta.environment_name, "dev");
        let err = store
            .get_or_create(&ws, "", "x", GetOrCreate::Lookup, &[])
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)));
    }
}
