//! The store: one SQLite file (`store.sqlite3` in the data directory), WAL mode, `synchronous=FULL`,
//! so a write is on disk before the call that made it is answered.
//!
//! Every method here blocks; the service and authentication call them through [`blocking`], on the
//! blocking pool, which also turns a [`StoreError`] into the gRPC status it answers. Writes go
//! through one connection (SQLite has one writer anyway); reads take a connection from a small
//! pool so lookups run beside a write that is waiting for its fsync.
//!
//! Secret values are written and never read back: no method of Modal's API returns them. They are
//! sealed (`local/sealing.rs`) under a key kept in a file apart from the database; the token
//! signing key in `meta` is sealed the same way. A store copied without its key file reveals
//! neither.
//!
//! This file holds the [`Store`] itself (opening, connections, errors); its methods are spread by
//! job over:
//! - `schema.rs`: the tables and the append-only migrations, run at open;
//! - `keys.rs`: the key file, finding the store's key at open, and key rotation;
//! - `tokens.rs`: workspaces, environments and tokens;
//! - `secrets.rs`: the secrets (get-or-create, list, info, delete, update, the ephemeral sweep) and
//!   the limits on what they hold.
//!
//! Times come from the server's one wall clock (`clock.rs`).

mod keys;
mod schema;
mod secrets;
#[cfg(test)]
mod testing;
mod tokens;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tonic::Status;

use crate::limits::{DEFAULT_WORKSPACE_QUOTA_BYTES, MAX_SECRETS_PER_ENVIRONMENT};
use crate::local::ids::RandomError;
use crate::local::sealing::{KEY_FILE, ValueKey};
use crate::log;

pub use schema::SCHEMA_VERSION;
pub use secrets::{GetOrCreate, KeyUpdate};
pub use tokens::{NewToken, StoredToken, Workspace};

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
        let opened = schema::migrate(&mut writer, &key_path)?;
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key file this store was opened with.
    pub fn key_path(&self) -> &Path {
        &self.key_path
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

/// Runs a store call on the blocking pool and maps its error to a gRPC status.
pub async fn blocking<T, F>(store: &Arc<Store>, f: F) -> Result<T, Status>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result.map_err(status_of),
        Err(e) => {
            log::error(&format!("a store task failed: {e}"));
            Err(Status::internal("internal error; see the server's log"))
        }
    }
}

/// The gRPC status of a store error. Unexpected failures are logged here and answered INTERNAL
/// without details.
pub fn status_of(e: StoreError) -> Status {
    match e {
        StoreError::NotFound(m) => Status::not_found(m),
        StoreError::AlreadyExists(m) => Status::already_exists(m),
        StoreError::Invalid(m) => Status::invalid_argument(m),
        StoreError::MissingKeys(m) => Status::failed_precondition(m),
        StoreError::Busy => Status::unavailable(StoreError::Busy.to_string()),
        StoreError::Full => Status::resource_exhausted(StoreError::Full.to_string()),
        StoreError::LimitReached(m) => Status::resource_exhausted(m),
        other => {
            log::error(&other.to_string());
            Status::internal("internal store error; see the server's log")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::ids;

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
}
