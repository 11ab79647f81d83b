//! The store: one SQLite file (`store.sqlite3` in the data directory), WAL mode, `synchronous=FULL`,
//! so a write is on disk before the call that made it is answered.
//!
//! Every method here blocks; the service calls them from `spawn_blocking`. Writes go through one
//! connection (SQLite has one writer anyway); reads take a connection from a small pool so lookups
//! run beside a write that is waiting for its fsync.
//!
//! Secret values are written and never read back: no method of Modal's API returns them. They are
//! sealed (`sealing.rs`) under a key kept in a file apart from the database; the token signing key
//! in `meta` is sealed the same way. A store copied without its key file reveals neither.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use modal_secrets_core::proto::{CreationInfo, SecretListItem, SecretMetadata};
use prost::Message;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use crate::ids::{self, RandomError};
use crate::limits::{
    DEFAULT_WORKSPACE_QUOTA_BYTES, LIST_PAGE_BYTES, MAX_KEY_NAME_BYTES_PER_SECRET,
    MAX_KEYS_PER_SECRET, MAX_SECRET_BYTES, MAX_SECRETS_PER_ENVIRONMENT,
};
use crate::sealing::{self, JWT_KEY_AAD, KEY_FILE, ValueKey, value_aad};

/// The file inside the data directory.
pub const DB_FILE: &str = "store.sqlite3";

/// The environment every workspace has, and what `""` means.
pub const DEFAULT_ENVIRONMENT: &str = "main";

/// The workspace `token new` and `env new` use when none is named.
pub const DEFAULT_WORKSPACE: &str = "local";

/// How long a statement waits for another writer (e.g. `token new` while the server runs).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

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
const JWT_KEY_SEALED: &str = "jwt_hmac_key_sealed";
/// The values key's check value (`ValueKey::check_value`): which key the store is sealed with.
const KEY_CHECK: &str = "values_key_check";

/// Why a store operation failed. Messages name objects (secret names, environments, keys), never a
/// value or a token secret.
#[derive(Debug)]
pub enum StoreError {
    NotFound(String),
    AlreadyExists(String),
    Invalid(String),
    /// A `required_keys` entry is missing (FAILED_PRECONDITION).
    MissingKeys(String),
    /// A limit on what the store holds (RESOURCE_EXHAUSTED).
    LimitReached(String),
    /// Another writer held the database longer than the busy timeout.
    Busy,
    /// The disk is full.
    Full,
    /// The store was written by a newer version of the server.
    NewerSchema {
        found: i64,
        known: i64,
    },
    /// The key file is missing, unreadable or not this store's: no value can be read or written.
    Key(String),
    /// Something in the store does not open with its key (damaged data).
    Damaged(String),
    Db(rusqlite::Error),
    Io(std::io::Error),
    Random(RandomError),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound(m)
            | StoreError::AlreadyExists(m)
            | StoreError::Invalid(m)
            | StoreError::MissingKeys(m)
            | StoreError::LimitReached(m) => f.write_str(m),
            StoreError::Busy => f.write_str("the store is busy; try again"),
            StoreError::Full => f.write_str("the store's disk is full"),
            StoreError::NewerSchema { found, known } => write!(
                f,
                "the store has schema version {found}, but this server knows versions up to {known}; \
                 use a newer modal-secrets-server"
            ),
            StoreError::Key(m) | StoreError::Damaged(m) => f.write_str(m),
            StoreError::Db(e) => write!(f, "store error: {e}"),
            StoreError::Io(e) => write!(f, "store I/O error: {e}"),
            StoreError::Random(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full,
            _ => StoreError::Db(e),
        }
    }
}

impl From<RandomError> for StoreError {
    fn from(e: RandomError) -> Self {
        StoreError::Random(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A workspace as a caller acts in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub id: i64,
    pub name: Arc<str>,
}

/// A token as stored: the SHA-256 of its secret, and its workspace.
#[derive(Clone, Debug)]
pub struct StoredToken {
    pub secret_sha256: [u8; 32],
    pub workspace: Workspace,
}

/// A token just made; the secret exists only here and in the caller's hands.
pub struct NewToken {
    pub token_id: String,
    pub token_secret: modal_secrets_core::Redacted<String>,
    pub workspace: String,
}

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

pub struct Store {
    path: PathBuf,
    key_path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    jwt_key: [u8; 32],
    /// The key values are sealed with, and its check value as last read from `meta`. Every write
    /// that seals compares the check in `meta` first (in its transaction), so a `key rotate` run
    /// beside the server is noticed and the new key read, never written over with the old one.
    sealing: Mutex<Sealing>,
    /// [`MAX_SECRETS_PER_ENVIRONMENT`], lowered by tests.
    max_secrets: std::sync::atomic::AtomicUsize,
    /// Most bytes of keys and sealed values one workspace may hold (`--workspace-quota-bytes`).
    workspace_quota: std::sync::atomic::AtomicU64,
}

struct Sealing {
    key: Arc<ValueKey>,
    check: Vec<u8>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with its key file beside the database
    /// (`DIR/store.key`), migrating an older schema.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with_key_file(dir, &dir.join(KEY_FILE))
    }

    /// Opens (creating if needed) the store in `dir` with its key in `key_path`. A new store (or
    /// one from before values were sealed) takes the key in that file, or a new one written there;
    /// a sealed store must find its own key there (or the new key of an unfinished rotation
    /// beside it, `PATH.new`), else [`StoreError::Key`].
    pub fn open_with_key_file(dir: &Path, key_path: &Path) -> Result<Store> {
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE);
        create_private_file(&path)?;
        let key_path = std::path::absolute(key_path).unwrap_or_else(|_| key_path.to_owned());
        let mut writer = open_connection(&path)?;
        let mode: String =
            writer.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!(
                "the store at {} cannot use WAL mode (got {mode:?})",
                path.display()
            )));
        }
        let opened = migrate(&mut writer, &key_path)?;
        if opened.sealed_plaintext {
            // The plaintext rows are gone from the tables (and zeroed, secure_delete); push the
            // WAL into the database and empty it, so no old page survives in the -wal file.
            writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(Store {
            path,
            key_path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            jwt_key: opened.jwt_key,
            sealing: Mutex::new(Sealing {
                key: Arc::new(opened.key),
                check: opened.check,
            }),
            max_secrets: std::sync::atomic::AtomicUsize::new(MAX_SECRETS_PER_ENVIRONMENT),
            workspace_quota: std::sync::atomic::AtomicU64::new(DEFAULT_WORKSPACE_QUOTA_BYTES),
        })
    }

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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lowers the number of secrets an environment may hold (tests of the limit).
    pub fn set_max_secrets_per_environment(&self, max: usize) {
        self.max_secrets
            .store(max, std::sync::atomic::Ordering::Relaxed);
    }

    fn max_secrets(&self) -> usize {
        self.max_secrets.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The key file this store was opened with.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The key to seal with inside write transaction `tx` (or to open with on a read connection):
    /// the one in memory, unless `meta` says the store was re-sealed since (a `key rotate` beside
    /// the server), then the key file's.
    fn sealing_key(&self, conn: &Connection) -> Result<Arc<ValueKey>> {
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

    /// The key that signs the tokens AuthTokenGet hands out; one per store, made at creation.
    pub fn jwt_key(&self) -> &[u8; 32] {
        &self.jwt_key
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path)?,
        };
        let out = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Makes a token for `workspace`, creating the workspace (with its `main` environment) if needed.
    pub fn create_token(&self, workspace: &str) -> Result<NewToken> {
        let token_id = ids::token_id()?;
        let token_secret = ids::token_secret()?;
        let hash = ids::hash_token_secret(&token_secret);
        self.write(|tx| {
            let ws = ensure_workspace(tx, workspace)?;
            tx.execute(
                "INSERT INTO tokens (token_id, secret_sha256, workspace_id, created_at_us)
                 VALUES (?1, ?2, ?3, ?4)",
                params![token_id, hash.as_slice(), ws, now_us()],
            )?;
            Ok(())
        })?;
        Ok(NewToken {
            token_id,
            token_secret: token_secret.into(),
            workspace: workspace.to_owned(),
        })
    }

    /// Adds environment `name` to `workspace` (creating the workspace if needed).
    pub fn create_environment(&self, workspace: &str, name: &str) -> Result<()> {
        self.write(|tx| {
            let ws = ensure_workspace(tx, workspace)?;
            let added = tx.execute(
                "INSERT OR IGNORE INTO environments (workspace_id, name, created_at_us)
                 VALUES (?1, ?2, ?3)",
                params![ws, name, now_us()],
            )?;
            if added == 0 {
                return Err(StoreError::AlreadyExists(format!(
                    "environment '{name}' already exists in workspace '{workspace}'"
                )));
            }
            Ok(())
        })
    }

    /// The environments of a workspace, by name.
    pub fn environments(&self, workspace: &str) -> Result<Vec<String>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT e.name FROM environments e JOIN workspaces w ON w.id = e.workspace_id
                 WHERE w.name = ?1 ORDER BY e.name",
            )?;
            let names = stmt
                .query_map([workspace], |row| row.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(names)
        })
    }

    /// The token `token_id`, if it exists.
    pub fn token(&self, token_id: &str) -> Result<Option<StoredToken>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT t.secret_sha256, w.id, w.name FROM tokens t
                 JOIN workspaces w ON w.id = t.workspace_id WHERE t.token_id = ?1",
            )?;
            let row = stmt
                .query_row([token_id], |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .optional()?;
            let Some((hash, id, name)) = row else {
                return Ok(None);
            };
            let secret_sha256 = <[u8; 32]>::try_from(hash.as_slice())
                .map_err(|_| StoreError::Invalid("a stored token hash is damaged".to_owned()))?;
            Ok(Some(StoredToken {
                secret_sha256,
                workspace: Workspace {
                    id,
                    name: name.into(),
                },
            }))
        })
    }

    /// The workspace with this id, if it still exists.
    pub fn workspace(&self, id: i64) -> Result<Option<Workspace>> {
        self.read(|conn| {
            let name: Option<String> = conn
                .prepare_cached("SELECT name FROM workspaces WHERE id = ?1")?
                .query_row([id], |row| row.get(0))
                .optional()?;
            Ok(name.map(|name| Workspace {
                id,
                name: name.into(),
            }))
        })
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

    /// Removes ephemeral secrets created before `cutoff_us`; returns how many.
    pub fn remove_ephemeral_before(&self, cutoff_us: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM secrets WHERE name IS NULL AND created_at_us < ?1")?
                .execute([cutoff_us])?)
        })
    }
}

fn damaged_value(secret_id: &str, key: &str) -> StoreError {
    StoreError::Damaged(format!(
        "the value of key {key:?} of secret {secret_id} does not open with the store's key \
         (damaged)"
    ))
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix seconds, as the wire carries them.
pub fn us_to_secs(us: i64) -> f64 {
    us as f64 / 1e6
}

/// The exclusive bound in microseconds that matches a wire `created_before`: the smallest `t`
/// with `us_to_secs(t) >= created_before`, so that `created_at_us < t` holds exactly when
/// `us_to_secs(created_at_us) < created_before`. A client that pages with the last item's
/// `created_at` therefore never sees that item twice, nor skips the one just older.
pub fn micros_before(created_before: f64) -> Option<i64> {
    // Beyond year 200000 (or infinite): no bound at all.
    if !created_before.is_finite() || created_before > 6e12 {
        return None;
    }
    let mut t = (created_before * 1e6).ceil() as i64;
    while us_to_secs(t - 1) >= created_before {
        t -= 1;
    }
    while us_to_secs(t) < created_before {
        t += 1;
    }
    Some(t)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves no half-done transaction (a dropped Transaction rolls
    // back), so the connection is still good.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    make_private(dir)
}

/// A directory that already existed is made 0700 too, if it is ours; one owned by another user
/// is refused (its owner could read the store whatever its mode).
#[cfg(unix)]
fn make_private(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(dir)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(StoreError::Invalid(format!(
            "the data directory {} is owned by user {}, not by this user ({me}); use a directory \
             of your own (it is made private, mode 0700)",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
            StoreError::Invalid(format!(
                "the data directory {} is readable by others and cannot be made 0700: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Creates the database file readable by its owner only (SQLite gives its -wal and -shm files the
/// same permissions), so secret values are not left world-readable.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?;
    Ok(())
}

fn open_connection(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted rows and freed pages are overwritten with zeros, not left in the file.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// What [`migrate`] found or made.
struct Opened {
    key: ValueKey,
    check: Vec<u8>,
    jwt_key: [u8; 32],
    /// Plaintext values of a version 1 store were sealed just now.
    sealed_plaintext: bool,
}

/// Brings the schema to [`SCHEMA_VERSION`] and finds the store's key, in one transaction (so two
/// processes opening a fresh store at once do not both create it).
fn migrate(conn: &mut Connection, key_path: &Path) -> Result<Opened> {
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
    let key = match if start >= 2 { key_check(&tx)? } else { None } {
        Some(check) => find_key(key_path, &check)?,
        None => key_for_new_store(key_path)?,
    };
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
    let check = match key_check(&tx)? {
        Some(check) => check,
        None => {
            let check = key.check_value()?;
            set_meta(&tx, KEY_CHECK, &check)?;
            check
        }
    };
    let sealed_jwt: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [JWT_KEY_SEALED],
            |row| row.get(0),
        )
        .optional()?;
    let jwt_key = match sealed_jwt {
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
            set_meta(&tx, JWT_KEY_SEALED, &key.seal(JWT_KEY_AAD, &jwt_key)?)?;
            jwt_key
        }
    };
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
    let plain: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [JWT_KEY_V1],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(plain) = plain {
        let plain = zeroize::Zeroizing::new(plain);
        set_meta(tx, JWT_KEY_SEALED, &key.seal(JWT_KEY_AAD, &plain)?)?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [JWT_KEY_V1])?;
    }
    Ok(())
}

fn set_meta(tx: &Transaction<'_>, name: &str, value: &[u8]) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

/// The check value of the key the store is sealed with (`None` before version 2).
fn key_check(conn: &Connection) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([KEY_CHECK], |row| row.get(0))
        .optional()?)
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

fn ensure_workspace(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let now = now_us();
    tx.execute(
        "INSERT OR IGNORE INTO workspaces (name, created_at_us) VALUES (?1, ?2)",
        params![name, now],
    )?;
    let id: i64 = tx.query_row("SELECT id FROM workspaces WHERE name = ?1", [name], |row| {
        row.get(0)
    })?;
    tx.execute(
        "INSERT OR IGNORE INTO environments (workspace_id, name, created_at_us) VALUES (?1, ?2, ?3)",
        params![id, DEFAULT_ENVIRONMENT, now],
    )?;
    Ok(id)
}

struct Environment {
    id: i64,
    name: String,
}

/// The environment `name` of the workspace; `""` is `main`.
fn environment_of(conn: &Connection, ws: &Workspace, name: &str) -> Result<Environment> {
    let name = if name.is_empty() {
        DEFAULT_ENVIRONMENT
    } else {
        name
    };
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM environments WHERE workspace_id = ?1 AND name = ?2")?
        .query_row(params![ws.id, name], |row| row.get(0))
        .optional()?;
    match id {
        Some(id) => Ok(Environment {
            id,
            name: name.to_owned(),
        }),
        None => Err(StoreError::NotFound(format!(
            "Environment '{name}' not found"
        ))),
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
        Some(latest) if latest >= now_us() => latest.saturating_add(1),
        _ => now_us(),
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
    use super::*;

    fn ws(store: &Store) -> Workspace {
        let token = store.create_token("w").unwrap();
        store.token(&token.token_id).unwrap().unwrap().workspace
    }

    fn dict(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn micros_before_matches_float_comparison() {
        for us in [
            1_700_000_000_123_456i64,
            1_700_000_000_000_000,
            1_764_300_000_999_999,
            1,
            0,
        ] {
            let cb = us_to_secs(us);
            let t = micros_before(cb).unwrap();
            assert_eq!(t, us, "{us}");
            for d in -3..=3 {
                let x = us + d;
                assert_eq!(x < t, us_to_secs(x) < cb, "{us} {d}");
            }
        }
        assert_eq!(micros_before(f64::INFINITY), None);
        assert_eq!(micros_before(f64::NAN), None);
        let t = micros_before(1_700_000_000.5).unwrap();
        assert_eq!(t, 1_700_000_000_500_000);
    }

    #[test]
    fn reopen_keeps_data_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let (key, token) = {
            let store = Store::open(dir.path()).unwrap();
            (*store.jwt_key(), store.create_token("w").unwrap())
        };
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(*store.jwt_key(), key);
        let stored = store.token(&token.token_id).unwrap().unwrap();
        assert_eq!(
            stored.secret_sha256,
            ids::hash_token_secret(token.token_secret.expose())
        );
        assert_eq!(&*stored.workspace.name, "w");
    }

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
        let version: i64 = lock(&store.writer)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let sync: i64 = lock(&store.writer)
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
    }

    #[cfg(unix)]
    #[test]
    fn store_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        drop(Store::open(&data).unwrap());
        let mode = std::fs::metadata(data.join(DB_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        let mode = std::fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }

    #[test]
    fn created_at_is_distinct_and_increasing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
        let mut last = 0.0;
        for i in 0..50 {
            let (_, meta) = store
                .get_or_create(
                    &ws,
                    "",
                    &format!("s{i}"),
                    GetOrCreate::CreateFailIfExists(dict(&[("A", "1")])),
                    &[],
                )
                .unwrap();
            let at = meta.creation_info.unwrap().created_at;
            assert!(at > last);
            last = at;
        }
    }

    #[test]
    fn ephemeral_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
        let (id, meta) = store
            .create_ephemeral(&ws, "", &dict(&[("A", "1")]))
            .unwrap();
        assert_eq!(meta.name, "");
        assert_eq!(store.list(&ws, "", 100, None).unwrap().1.len(), 0);
        assert_eq!(store.remove_ephemeral_before(0).unwrap(), 0);
        assert_eq!(store.remove_ephemeral_before(i64::MAX).unwrap(), 1);
        assert!(matches!(store.info(&ws, &id), Err(StoreError::NotFound(_))));
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
        let version: i64 = lock(&store.writer)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
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

    #[test]
    fn a_missing_or_wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
        store
            .get_or_create(
                &ws,
                "",
                "x",
                GetOrCreate::CreateFailIfExists(dict(&[("A", "1")])),
                &[],
            )
            .unwrap();
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
        let (id, _) = store
            .get_or_create(
                &ws,
                "",
                "x",
                GetOrCreate::CreateFailIfExists(dict(&[("A", "elsewhere-value")])),
                &[],
            )
            .unwrap();
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
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
        let mut ids = Vec::new();
        for i in 0..20 {
            let (id, _) = store
                .get_or_create(
                    &ws,
                    "",
                    &format!("s{i}"),
                    GetOrCreate::CreateFailIfExists(dict(&[("A", &format!("a{i}")), ("B", "b")])),
                    &[],
                )
                .unwrap();
            ids.push(id);
        }
        let key_path = dir.path().join(KEY_FILE);
        let old_key = std::fs::read(&key_path).unwrap();
        let sealed_before: Vec<Vec<u8>> = lock(&store.writer)
            .prepare("SELECT sealed FROM sealed_values ORDER BY secret_id, key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let jwt = *store.jwt_key();

        assert_eq!(store.rotate_key().unwrap(), 40);
        let new_key = std::fs::read(&key_path).unwrap();
        assert_ne!(old_key, new_key);
        assert!(!sealing::pending_path(&key_path).exists());
        let sealed_after: Vec<Vec<u8>> = lock(&store.writer)
            .prepare("SELECT sealed FROM sealed_values ORDER BY secret_id, key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
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
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
        let (id, _) = store
            .get_or_create(
                &ws,
                "",
                "x",
                GetOrCreate::CreateFailIfExists(dict(&[("A", "1")])),
                &[],
            )
            .unwrap();
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
        let stale = sealing::ValueKey::generate().unwrap();
        sealing::replace_key_file(&pending, &stale).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.reveal_values(&id).unwrap()["A"], "1");
    }

    #[test]
    fn a_second_handle_notices_a_rotation() {
        // As a server does when `key rotate` runs beside it.
        let dir = tempfile::tempdir().unwrap();
        let server = Store::open(dir.path()).unwrap();
        let ws = ws(&server);
        let (id, _) = server
            .get_or_create(
                &ws,
                "",
                "x",
                GetOrCreate::CreateFailIfExists(dict(&[("A", "1")])),
                &[],
            )
            .unwrap();
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

    #[test]
    fn environments_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let ws = ws(&store);
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
