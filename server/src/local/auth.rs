//! Who is calling: `x-modal-token-id` + `x-modal-token-secret` (checked against the SHA-256 the
//! store keeps, in constant time), or else a token from AuthTokenGet in `x-modal-auth-token`.
//! Anything else is UNAUTHENTICATED.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use http::HeaderMap;
use subtle::{Choice, ConstantTimeEq};
use tonic::Status;

use crate::clock;
use crate::limits::MAX_TOKEN_SECRET_BYTES;
use crate::local::ids;
use crate::local::jwt::Signer;
use crate::local::store::{Store, StoredToken, Workspace, blocking};

pub const TOKEN_ID_HEADER: &str = "x-modal-token-id";
pub const TOKEN_SECRET_HEADER: &str = "x-modal-token-secret";
pub const AUTH_TOKEN_HEADER: &str = "x-modal-auth-token";

/// Most tokens remembered in memory; past this the cache starts over (tokens are few in practice).
const MAX_CACHED_TOKENS: usize = 10_000;

/// An authenticated caller, put in each request's extensions for the service to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub workspace: Workspace,
    pub token_id: String,
}

pub struct Auth {
    store: Arc<Store>,
    signer: Signer,
    /// Token ids already read from the store, found or not, for [`CACHE_TTL`]. Tokens never
    /// change once made.
    cache: RwLock<HashMap<String, Cached>>,
}

/// A token id as last read from the store: its token, or `None` if it does not exist.
struct Cached {
    token: Option<StoredToken>,
    read_at: Instant,
}

/// How long a token id's lookup is kept, found or not (then the store is read again: a token made
/// by `token new` after its id was probed is seen within this time).
const CACHE_TTL: Duration = Duration::from_secs(60);

/// What an unknown id's presented secret is compared against (no secret hashes to it).
const UNKNOWN_ID_HASH: [u8; 32] = [0u8; 32];

impl Auth {
    pub fn new(store: Arc<Store>) -> Auth {
        let signer = Signer::new(*store.jwt_key());
        Auth {
            store,
            signer,
            cache: RwLock::new(HashMap::new()),
        }
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The caller these headers prove, or UNAUTHENTICATED. Store failures keep their own status
    /// (UNAVAILABLE when busy, INTERNAL otherwise), so a client retries rather than giving up.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Status> {
        let token_id = header(headers, TOKEN_ID_HEADER)?;
        let token_secret = header(headers, TOKEN_SECRET_HEADER)?;
        match (token_id, token_secret) {
            (Some(id), Some(secret)) => self.check_token(id, secret).await,
            (Some(_), None) | (None, Some(_)) => Err(Status::unauthenticated(
                "send both x-modal-token-id and x-modal-token-secret",
            )),
            (None, None) => match header(headers, AUTH_TOKEN_HEADER)? {
                Some(token) => self.check_auth_token(token),
                None => Err(Status::unauthenticated(
                    "missing credentials: send x-modal-token-id and x-modal-token-secret \
                     (MODAL_TOKEN_ID and MODAL_TOKEN_SECRET; `modal-secrets-server token new` makes a token)",
                )),
            },
        }
    }

    async fn check_token(&self, token_id: &str, secret: &str) -> Result<Caller, Status> {
        let invalid = || Status::unauthenticated("invalid token id or token secret");
        if !ids::has_id_shape(token_id, "ak-") || secret.len() > MAX_TOKEN_SECRET_BYTES {
            return Err(invalid());
        }
        // Known and unknown ids take the same path: both are cached (an unknown one as such)
        // for the same time, and both are compared in constant time against a hash (a fixed one
        // for an unknown id), so how long a check takes does not tell whether the id exists.
        let cached = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token_id)
            .filter(|c| c.read_at.elapsed() < CACHE_TTL)
            .map(|c| c.token.clone());
        let stored = match cached {
            Some(stored) => stored,
            None => {
                let id = token_id.to_owned();
                let found = blocking(&self.store, move |store| store.token(&id)).await?;
                let mut cache = self
                    .cache
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if cache.len() >= MAX_CACHED_TOKENS {
                    cache.clear();
                }
                cache.insert(
                    token_id.to_owned(),
                    Cached {
                        token: found.clone(),
                        read_at: Instant::now(),
                    },
                );
                found
            }
        };
        let presented = ids::hash_token_secret(secret);
        let (expected, exists) = match &stored {
            Some(stored) => (stored.secret_sha256, Choice::from(1)),
            None => (UNKNOWN_ID_HASH, Choice::from(0)),
        };
        let matches = presented.ct_eq(&expected) & exists;
        match stored {
            Some(stored) if bool::from(matches) => Ok(Caller {
                workspace: stored.workspace,
                token_id: token_id.to_owned(),
            }),
            _ => Err(invalid()),
        }
    }

    fn check_auth_token(&self, token: &str) -> Result<Caller, Status> {
        let claims = self
            .signer
            .verify(token, clock::now_secs())
            .ok_or_else(|| Status::unauthenticated("invalid or expired x-modal-auth-token"))?;
        Ok(Caller {
            workspace: Workspace {
                id: claims.workspace_id,
                name: claims.workspace_name.into(),
            },
            token_id: claims.token_id,
        })
    }
}

/// A header's value as text; absent or empty is `None`. A value that is not visible ASCII cannot
/// be a credential.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Status> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok("") => Ok(None),
            Ok(text) => Ok(Some(text.trim())),
            Err(_) => Err(Status::unauthenticated(format!(
                "the {name} header is not valid text"
            ))),
        },
    }
}
