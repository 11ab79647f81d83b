//! Workspaces, their environments and their tokens. A workspace is made with its first token (or
//! environment) and always has the environment `main`, which `""` names. A token is kept as the
//! SHA-256 of its secret: the secret itself is shown once, by `token new`, and never stored.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use std::sync::Arc;

use super::{DEFAULT_ENVIRONMENT, Result, Store, StoreError};
use crate::clock;
use crate::local::ids;

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

impl Store {
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
                params![token_id, hash.as_slice(), ws, clock::now_micros()],
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
                params![ws, name, clock::now_micros()],
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
}

fn ensure_workspace(tx: &Transaction<'_>, name: &str) -> Result<i64> {
    let now = clock::now_micros();
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

pub(super) struct Environment {
    pub(super) id: i64,
    pub(super) name: String,
}

/// The environment `name` of the workspace; `""` is `main`.
pub(super) fn environment_of(conn: &Connection, ws: &Workspace, name: &str) -> Result<Environment> {
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
