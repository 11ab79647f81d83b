//! `x-idempotency-key` for the writing methods (SecretGetOrCreate with a creating type, SecretUpdate,
//! SecretDelete). Clients send one key per logical call, the same on every retry (WIRE.md); a retry
//! of a call whose answer was lost (a connection reset mid-body) must get that call's answer, not
//! run again: a second CREATE_FAIL_IF_EXISTS would answer ALREADY_EXISTS, a second delete NOT_FOUND,
//! a second ephemeral create would make a second secret.
//!
//! - **Scope**: the workspace, the method and the key. Every token of a workspace acts as the
//!   workspace (the store knows no users), so a retry that authenticates differently (a token, then
//!   the JWT from AuthTokenGet) is still the same call; another workspace's use of the same key is
//!   another entry and never sees this one's answer.
//! - **Same request**: the entry keeps a digest of the request message (SHA-256 under a random key
//!   made at start, of the method and the message as the server decoded it, re-encoded: so it does
//!   not depend on the transport, gRPC or gRPC-web). The same key with another message is
//!   INVALID_ARGUMENT, naming neither the key nor anything the message held.
//! - **What is kept**: only answers of calls that succeeded (OK), encoded. These answers hold ids
//!   and metadata (names, key names, times), never values; the digest is keyed with a per-process
//!   random key, so it cannot be used to test guesses of a value either. Nothing is written to disk:
//!   a restart forgets every key (a retry after a restart runs again).
//! - **Bounds** ([`IdempotencyLimits`]): an answer is kept for 10 minutes after the call finished;
//!   at most 10,000 answers and 32 MiB of them (key and answer bytes) are kept, the oldest dropped
//!   first. Keys longer than [`MAX_IDEMPOTENCY_KEY_BYTES`] are INVALID_ARGUMENT.
//! - **In flight**: the first call with a key runs in a task of its own, which records the answer
//!   when the store call has finished, even if the caller has gone away meanwhile. Another attempt
//!   with the same key and message arriving while it runs waits for it, then gets its answer (or,
//!   if it failed, runs itself); the store call never runs twice at once for one key.
//!
//! Only the local server has this: a gateway forwards the key to its upstream and keeps nothing.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prost::Message;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::log;

pub const IDEMPOTENCY_KEY_HEADER: &str = "x-idempotency-key";

/// Longest `x-idempotency-key` accepted, in bytes (clients send a UUID, 36).
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// How long, and how many, answers are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyLimits {
    /// An answer is kept this long after its call finished.
    pub window: Duration,
    /// Most answers kept; past it the oldest are dropped.
    pub max_entries: usize,
    /// Most bytes of keys and answers kept; past it the oldest are dropped.
    pub max_bytes: usize,
}

impl Default for IdempotencyLimits {
    fn default() -> Self {
        IdempotencyLimits {
            window: Duration::from_secs(10 * 60),
            max_entries: 10_000,
            max_bytes: 32 << 20,
        }
    }
}

/// The methods whose calls are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    SecretGetOrCreate,
    SecretUpdate,
    SecretDelete,
}

impl Method {
    fn tag(self) -> &'static [u8] {
        match self {
            Method::SecretGetOrCreate => b"SecretGetOrCreate",
            Method::SecretUpdate => b"SecretUpdate",
            Method::SecretDelete => b"SecretDelete",
        }
    }
}

/// The key of a request, if it sent one: absent or empty is `None`; one that is not visible ASCII
/// or is too long is INVALID_ARGUMENT.
pub fn key_of(metadata: &MetadataMap) -> Result<Option<String>, Status> {
    let Some(value) = metadata.get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.len() > MAX_IDEMPOTENCY_KEY_BYTES {
        return Err(Status::invalid_argument(format!(
            "{IDEMPOTENCY_KEY_HEADER}: {} bytes, at most {MAX_IDEMPOTENCY_KEY_BYTES} allowed \
             (send a UUID)",
            bytes.len()
        )));
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(Status::invalid_argument(format!(
            "{IDEMPOTENCY_KEY_HEADER}: only visible ASCII characters are allowed (send a UUID)"
        )));
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(bytes).into_owned()))
}

/// One keyed call, ready for [`Idempotency::run`].
pub struct Keyed {
    scope: Scope,
    digest: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Scope {
    workspace: i64,
    method: Method,
    key: String,
}

enum Entry {
    /// A call running now; its sender is dropped when it has finished (and this entry been
    /// replaced or removed).
    InFlight {
        digest: [u8; 32],
        done: watch::Receiver<()>,
    },
    Done {
        digest: [u8; 32],
        answer: Arc<[u8]>,
        seq: u64,
    },
}

#[derive(Default)]
struct State {
    entries: HashMap<Scope, Entry>,
    /// Finished entries, oldest first: (when it finished, its sequence number, its scope).
    order: VecDeque<(Instant, u64, Scope)>,
    /// Bytes of keys and answers of the finished entries.
    bytes: usize,
    next_seq: u64,
}

impl State {
    /// Drops finished entries past the window, then the oldest while over a cap.
    fn prune(&mut self, now: Instant, limits: &IdempotencyLimits) {
        while let Some((at, _, _)) = self.order.front() {
            let expired = now.saturating_duration_since(*at) >= limits.window;
            let over = self.order.len() > limits.max_entries || self.bytes > limits.max_bytes;
            if !expired && !over {
                break;
            }
            if let Some((_, seq, scope)) = self.order.pop_front()
                && let Some(Entry::Done { seq: s, answer, .. }) = self.entries.get(&scope)
                && *s == seq
            {
                self.bytes = self.bytes.saturating_sub(cost(&scope, answer));
                self.entries.remove(&scope);
            }
        }
    }
}

fn cost(scope: &Scope, answer: &[u8]) -> usize {
    scope.key.len() + answer.len()
}

/// The answers of keyed calls, per workspace, method and key.
pub struct Idempotency {
    hash_key: [u8; 32],
    limits: IdempotencyLimits,
    state: Mutex<State>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Idempotency {
    pub fn new(limits: IdempotencyLimits) -> Idempotency {
        let mut hash_key = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut hash_key) {
            // Only the digests' resistance to guessing depends on it, not their use.
            log::error(&format!("no random key for idempotency digests: {e}"));
        }
        Idempotency {
            hash_key,
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// Answers kept now (tests).
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The call `request` of `workspace` to `method` under `key`.
    pub fn keyed(
        &self,
        workspace: i64,
        method: Method,
        key: String,
        request: &impl Message,
    ) -> Keyed {
        let mut hasher = Sha256::new();
        hasher.update(self.hash_key);
        hasher.update(method.tag());
        hasher.update([0]);
        hasher.update(request.encode_to_vec());
        Keyed {
            scope: Scope {
                workspace,
                method,
                key,
            },
            digest: hasher.finalize().into(),
        }
    }

    /// Runs `work` once per key: without a key, just runs it; with a key already answered OK (same
    /// message), answers that again; with a key in flight, waits for it.
    pub async fn run<R, F>(self: &Arc<Self>, keyed: Option<Keyed>, work: F) -> Result<R, Status>
    where
        R: Message + Default + Send + 'static,
        F: Future<Output = Result<R, Status>> + Send + 'static,
    {
        let Some(Keyed { scope, digest }) = keyed else {
            return work.await;
        };
        let sender = loop {
            let mut waiting = {
                let mut state = self.lock();
                state.prune(Instant::now(), &self.limits);
                match state.entries.get(&scope) {
                    Some(Entry::Done { digest: d, .. } | Entry::InFlight { digest: d, .. })
                        if *d != digest =>
                    {
                        return Err(reused());
                    }
                    Some(Entry::Done { answer, .. }) => {
                        return R::decode(&answer[..]).map_err(|e| {
                            log::error(&format!("a kept answer does not decode: {e}"));
                            Status::internal("internal error; see the server's log")
                        });
                    }
                    Some(Entry::InFlight { done, .. }) => done.clone(),
                    None => {
                        let (sender, done) = watch::channel(());
                        state
                            .entries
                            .insert(scope.clone(), Entry::InFlight { digest, done });
                        break sender;
                    }
                }
            };
            // Ends when the call in flight has finished: its sender is dropped.
            let _ = waiting.changed().await;
        };
        let flight = Flight {
            table: Arc::clone(self),
            scope,
            digest,
            settled: false,
            _sender: sender,
        };
        // In a task of its own: the answer is recorded once the store call has finished, even if
        // this caller is gone by then (its retry is on the way).
        let task = tokio::spawn(async move {
            let mut flight = flight;
            let result = work.await;
            if let Ok(answer) = &result {
                flight.settle(answer.encode_to_vec());
            }
            result
        });
        match task.await {
            Ok(result) => result,
            Err(e) => {
                log::error(&format!("a keyed call's task failed: {e}"));
                Err(Status::internal("internal error; see the server's log"))
            }
        }
    }
}

fn reused() -> Status {
    Status::invalid_argument(format!(
        "{IDEMPOTENCY_KEY_HEADER}: this key was already used for another request to this method; \
         send a new key for each call (the same one only on its retries)"
    ))
}

/// A call in flight under a key: on drop, unless it settled with an answer, its entry goes (the
/// next attempt runs afresh); then the sender drops and attempts waiting on it look again.
struct Flight {
    table: Arc<Idempotency>,
    scope: Scope,
    digest: [u8; 32],
    settled: bool,
    _sender: watch::Sender<()>,
}

impl Flight {
    fn settle(&mut self, answer: Vec<u8>) {
        let limits = self.table.limits;
        let mut state = self.table.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        let answer: Arc<[u8]> = answer.into();
        state.bytes += cost(&self.scope, &answer);
        state
            .order
            .push_back((Instant::now(), seq, self.scope.clone()));
        state.entries.insert(
            self.scope.clone(),
            Entry::Done {
                digest: self.digest,
                answer,
                seq,
            },
        );
        state.prune(Instant::now(), &limits);
        self.settled = true;
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        if !self.settled {
            let mut state = self.table.lock();
            if matches!(state.entries.get(&self.scope), Some(Entry::InFlight { .. })) {
                state.entries.remove(&self.scope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(table: &Idempotency, ws: i64, key: &str, message: &str) -> Option<Keyed> {
        Some(table.keyed(
            ws,
            Method::SecretDelete,
            key.to_owned(),
            &message.to_owned(),
        ))
    }

    #[tokio::test]
    async fn runs_once_and_replays() {
        let table = Arc::new(Idempotency::new(IdempotencyLimits::default()));
        let first: String = table
            .run(keyed(&table, 1, "k", "m"), async { Ok("one".to_owned()) })
            .await
            .unwrap();
        let again: String = table
            .run(keyed(&table, 1, "k", "m"), async { Ok("two".to_owned()) })
            .await
            .unwrap();
        assert_eq!((first.as_str(), again.as_str()), ("one", "one"));
        let other = table
            .run(keyed(&table, 1, "k", "n"), async { Ok("x".to_owned()) })
            .await
            .unwrap_err();
        assert_eq!(other.code(), tonic::Code::InvalidArgument);
        let ws2: String = table
            .run(keyed(&table, 2, "k", "m"), async { Ok("ws2".to_owned()) })
            .await
            .unwrap();
        assert_eq!(ws2, "ws2");
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let table = Arc::new(Idempotency::new(IdempotencyLimits::default()));
        let failed = table
            .run::<String, _>(keyed(&table, 1, "k", "m"), async {
                Err(Status::not_found("no"))
            })
            .await
            .unwrap_err();
        assert_eq!(failed.code(), tonic::Code::NotFound);
        assert!(table.is_empty());
        let ok: String = table
            .run(keyed(&table, 1, "k", "m"), async { Ok("ran".to_owned()) })
            .await
            .unwrap();
        assert_eq!(ok, "ran");
    }

    #[tokio::test]
    async fn caps_entries_and_bytes() {
        let limits = IdempotencyLimits {
            window: Duration::from_secs(60),
            max_entries: 3,
            max_bytes: 1 << 20,
        };
        let table = Arc::new(Idempotency::new(limits));
        for i in 0..5 {
            let _: String = table
                .run(keyed(&table, 1, &format!("k{i}"), "m"), async {
                    Ok("a".to_owned())
                })
                .await
                .unwrap();
        }
        assert_eq!(table.len(), 3);
        {
            let state = table.lock();
            assert!(!state.entries.contains_key(&Scope {
                workspace: 1,
                method: Method::SecretDelete,
                key: "k1".into()
            }));
            assert_eq!(state.bytes, 3 * ("k0".len() + "a".to_owned().encoded_len()));
        }

        let small = Arc::new(Idempotency::new(IdempotencyLimits {
            max_bytes: 10,
            ..limits
        }));
        for i in 0..3 {
            let _: String = small
                .run(keyed(&small, 1, &format!("k{i}"), "m"), async {
                    Ok("abcd".to_owned())
                })
                .await
                .unwrap();
        }
        // 2 + 6 bytes each: only one fits in 10.
        assert_eq!(small.len(), 1);
    }
}
