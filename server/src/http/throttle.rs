//! A limit on failed authentications, counted per **client** and per **(client, token id)**:
//!
//! - A call's client is its TCP peer, or, when the peer is a proxy listed by `--trusted-proxy`,
//!   the address that proxy names in `X-Forwarded-For` (`client_addr::client_address`). A gateway
//!   (`serve --upstream`) appends its caller's address, so an upstream that trusts the gateway
//!   counts each of the gateway's callers on its own.
//! - The token id is `x-modal-token-id` as sent (any text; one bucket for calls without one, such
//!   as JWT callers).
//! - Once a (client, token id) pair has had `max_failures` calls answered UNAUTHENTICATED within
//!   `window` of the client's first failure, or the client has had `PER_CLIENT_FACTOR ×
//!   max_failures` over all its token ids, calls of that pair (or of that client) are refused,
//!   before credentials are looked at, with RESOURCE_EXHAUSTED and an `RPCRetryPolicy` saying when
//!   the window ends. Then the client starts afresh.
//! - So failures of one client never refuse another client's call, and failures with one token id
//!   refuse neither another client nor, up to the per-client bound, another token id of the same
//!   client (a neighbour behind one NAT). Guessing stays bounded: at most `max_failures` per token
//!   id and `PER_CLIENT_FACTOR × max_failures` in all per client per window.
//! - Check and count are one step: a call **reserves** a failure before its credentials are
//!   checked (under one lock), and gives the reservation back if it authenticates. A call that
//!   would pass the limit only if every reservation in progress failed waits for them to settle,
//!   so however many calls arrive at once, at most the limit are checked.
//! - A success does not reset the count: otherwise a caller with one valid token of its own could
//!   interleave it with unlimited guesses at other tokens.
//! - IPv6 clients count per /64; IPv4-mapped IPv6 as the IPv4 address.
//! - The table is bounded ([`MAX_TRACKED`] clients, [`MAX_TOKENS_PER_CLIENT`] token ids each): when
//!   it is full, finished windows are dropped, and if none has finished, the tenth whose windows
//!   started first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use modal_secrets_core::proto::{RPC_RETRY_POLICY_TYPE_URL, RpcRetryPolicy, RpcStatus};
use prost::Message;
use tokio::sync::Notify;
use tonic::{Code, Status};

use crate::http::client_addr::bucket;

/// Most clients remembered at once.
pub const MAX_TRACKED: usize = 10_000;

/// A client may fail this many times the per-token-id limit over all its token ids.
pub const PER_CLIENT_FACTOR: u32 = 5;

/// Longest token id kept as a key (ours are 25 characters); longer ones count as their prefix.
const MAX_TOKEN_KEY: usize = 64;

/// How many failed authentications a client may have per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthLimit {
    /// Failures allowed per (client, token id) in one window; 0 turns the limit off. A client
    /// may have [`PER_CLIENT_FACTOR`] times this over all its token ids.
    pub max_failures: u32,
    /// The window, from a client's first failure.
    pub window: Duration,
}

impl Default for AuthLimit {
    /// 20 failures a minute: far beyond what a person mistyping a token or a test suite does, and
    /// the refusal lasts at most a minute, which Modal's clients wait out on their own.
    fn default() -> Self {
        AuthLimit {
            max_failures: 20,
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Count {
    failures: u32,
    pending: u32,
}

impl Count {
    fn is_empty(self) -> bool {
        self.failures == 0 && self.pending == 0
    }
}

#[derive(Debug, Default)]
struct Client {
    /// From the first failure; `None` while there is none.
    window_start: Option<Instant>,
    total: Count,
    tokens: HashMap<Box<str>, Count>,
}

#[derive(Debug)]
pub struct Throttle {
    limit: AuthLimit,
    table: Mutex<HashMap<IpAddr, Client>>,
    settled: Notify,
}

/// What [`Throttle::try_reserve`] found.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Reserved,
    /// Refused for this long.
    Refused(Duration),
    /// Only reservations in progress stand in the way: wait for them to settle.
    Busy,
}

impl Throttle {
    pub fn new(limit: AuthLimit) -> Throttle {
        Throttle {
            limit,
            table: Mutex::new(HashMap::new()),
            settled: Notify::new(),
        }
    }

    fn per_client(&self) -> u32 {
        self.limit.max_failures.saturating_mul(PER_CLIENT_FACTOR)
    }

    /// Reserves a failure for a call of `token_id` from `client` before its credentials are
    /// checked: `Err(wait)` if the call is refused (for `wait` more). Waits while reservations in
    /// progress could still fill the limit.
    pub async fn reserve(
        self: &Arc<Self>,
        client: IpAddr,
        token_id: &str,
    ) -> Result<Reservation, Duration> {
        let key = token_key(token_id);
        if self.limit.max_failures == 0 {
            return Ok(Reservation {
                throttle: None,
                client,
                key,
            });
        }
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self.try_reserve(client, &key, Instant::now()) {
                Attempt::Reserved => {
                    return Ok(Reservation {
                        throttle: Some(Arc::clone(self)),
                        client: bucket(client),
                        key,
                    });
                }
                Attempt::Refused(wait) => return Err(wait),
                Attempt::Busy => {
                    // Settling is prompt (one credential check, or one upstream call); look again
                    // at least every second in case a wake-up was missed.
                    let _ = tokio::time::timeout(Duration::from_secs(1), settled).await;
                }
            }
        }
    }

    fn try_reserve(&self, client: IpAddr, key: &str, now: Instant) -> Attempt {
        if self.limit.max_failures == 0 {
            return Attempt::Reserved;
        }
        let addr = bucket(client);
        let window = self.limit.window;
        let mut table = self.lock();
        if !table.contains_key(&addr) && table.len() >= MAX_TRACKED {
            Self::make_room(&mut table, window, now);
        }
        let entry = table.entry(addr).or_default();
        if let Some(start) = entry.window_start
            && now.saturating_duration_since(start) >= window
        {
            // The window is over: failures are forgotten, reservations in progress kept.
            entry.window_start = None;
            entry.total.failures = 0;
            entry.tokens.retain(|_, c| {
                c.failures = 0;
                c.pending > 0
            });
        }
        let token = entry.tokens.get(key).copied().unwrap_or_default();
        let (max, per_client) = (self.limit.max_failures, self.per_client());
        if token.failures >= max || entry.total.failures >= per_client {
            let ends = entry.window_start.map_or(now, |s| s + window);
            return Attempt::Refused(
                ends.saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            );
        }
        if token.failures + token.pending >= max
            || entry.total.failures + entry.total.pending >= per_client
        {
            return Attempt::Busy;
        }
        if !entry.tokens.contains_key(key) && entry.tokens.len() >= MAX_TOKENS_PER_CLIENT {
            // Only reachable with the limit raised very high; count it with the client only.
            entry.total.pending += 1;
            return Attempt::Reserved;
        }
        entry.total.pending += 1;
        entry.tokens.entry(key.into()).or_default().pending += 1;
        Attempt::Reserved
    }

    fn settle(&self, client: IpAddr, key: &str, failed: bool) {
        {
            let mut table = self.lock();
            if let Some(entry) = table.get_mut(&client) {
                entry.total.pending = entry.total.pending.saturating_sub(1);
                if failed {
                    entry.total.failures = entry.total.failures.saturating_add(1);
                    entry.window_start.get_or_insert_with(Instant::now);
                }
                if let Some(count) = entry.tokens.get_mut(key) {
                    count.pending = count.pending.saturating_sub(1);
                    if failed {
                        count.failures = count.failures.saturating_add(1);
                    }
                    if count.is_empty() {
                        entry.tokens.remove(key);
                    }
                }
                if entry.total.is_empty() && entry.tokens.is_empty() {
                    table.remove(&client);
                }
            }
        }
        self.settled.notify_waiters();
    }

    /// Drops finished windows, then (if still full) the tenth of clients whose windows started
    /// first. Clients with reservations in progress are kept.
    fn make_room(table: &mut HashMap<IpAddr, Client>, window: Duration, now: Instant) {
        table.retain(|_, c| {
            c.total.pending > 0
                || c.window_start
                    .is_some_and(|s| now.saturating_duration_since(s) < window)
        });
        if table.len() >= MAX_TRACKED {
            let mut starts: Vec<Instant> = table
                .values()
                .map(|c| c.window_start.unwrap_or(now))
                .collect();
            let (_, cutoff, _) = starts.select_nth_unstable(MAX_TRACKED / 10);
            let cutoff = *cutoff;
            table.retain(|_, c| c.total.pending > 0 || c.window_start.unwrap_or(now) > cutoff);
        }
    }

    /// Clients currently remembered.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Client>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Most token ids remembered per client.
const MAX_TOKENS_PER_CLIENT: usize = 1024;

fn token_key(token_id: &str) -> Box<str> {
    let mut end = token_id.len().min(MAX_TOKEN_KEY);
    while !token_id.is_char_boundary(end) {
        end -= 1;
    }
    token_id[..end].into()
}

/// A failure reserved for one call: [`Reservation::succeeded`] gives it back,
/// [`Reservation::failed`] makes it a failure; dropped unsettled (the call went away before its
/// credentials were judged), it is given back.
#[derive(Debug)]
pub struct Reservation {
    throttle: Option<Arc<Throttle>>,
    client: IpAddr,
    key: Box<str>,
}

impl Reservation {
    pub fn succeeded(mut self) {
        if let Some(t) = self.throttle.take() {
            t.settle(self.client, &self.key, false);
        }
    }

    pub fn failed(mut self) {
        if let Some(t) = self.throttle.take() {
            t.settle(self.client, &self.key, true);
        }
    }

    /// Settles by the call's gRPC status: UNAUTHENTICATED is a failure.
    pub fn settle_by(self, code: i32) {
        if code == Code::Unauthenticated as i32 {
            self.failed();
        } else {
            self.succeeded();
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(t) = self.throttle.take() {
            t.settle(self.client, &self.key, false);
        }
    }
}

/// RESOURCE_EXHAUSTED with an `RPCRetryPolicy` of `wait` (rounded up to whole seconds, at least
/// one) in `grpc-status-details-bin`, which Modal's clients (and this package) wait out.
pub fn refusal(wait: Duration) -> Status {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    exhausted_retry_after(
        format!("too many failed authentications from this address; try again in {secs} s"),
        secs,
    )
}

/// RESOURCE_EXHAUSTED with `message` and an `RPCRetryPolicy` of `secs` seconds.
pub fn exhausted_retry_after(message: String, secs: u64) -> Status {
    let policy = RpcRetryPolicy {
        retry_after_secs: secs as f32,
    };
    let details = RpcStatus {
        code: Code::ResourceExhausted as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: RPC_RETRY_POLICY_TYPE_URL.to_owned(),
            value: policy.encode_to_vec(),
        }],
    };
    Status::with_details(
        Code::ResourceExhausted,
        message,
        Bytes::from(details.encode_to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    fn limit(n: u32, secs: u64) -> Arc<Throttle> {
        Arc::new(Throttle::new(AuthLimit {
            max_failures: n,
            window: Duration::from_secs(secs),
        }))
    }

    async fn fail(t: &Arc<Throttle>, addr: IpAddr, id: &str) {
        t.reserve(addr, id).await.expect("not refused").failed();
    }

    #[tokio::test]
    async fn refuses_a_client_and_token_id_after_the_limit() {
        let t = limit(3, 60);
        for _ in 0..3 {
            fail(&t, A, "ak-1").await;
        }
        let wait = t.reserve(A, "ak-1").await.unwrap_err();
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(60));
        // Another client with that token id, and this client with another one, are not.
        t.reserve(B, "ak-1").await.unwrap().succeeded();
        t.reserve(A, "ak-2").await.unwrap().succeeded();
        // A success gives its reservation back and resets nothing.
        assert!(t.reserve(A, "ak-1").await.is_err());
    }

    #[tokio::test]
    async fn a_client_is_bounded_over_all_its_token_ids() {
        let t = limit(2, 60);
        for i in 0..2 * PER_CLIENT_FACTOR {
            fail(&t, A, &format!("ak-{i}")).await;
        }
        assert!(t.reserve(A, "ak-fresh").await.is_err());
        t.reserve(B, "ak-fresh").await.unwrap().succeeded();
    }

    #[tokio::test]
    async fn reservations_in_progress_count_until_they_settle() {
        let t = limit(2, 60);
        let r1 = t.reserve(A, "ak-1").await.unwrap();
        let r2 = t.reserve(A, "ak-1").await.unwrap();
        assert_eq!(t.try_reserve(A, "ak-1", Instant::now()), Attempt::Busy);
        // A waiter gets through once one of them authenticates…
        let waiter = {
            let t = Arc::clone(&t);
            tokio::spawn(async move { t.reserve(A, "ak-1").await.map(Reservation::succeeded) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        r1.succeeded();
        assert!(waiter.await.unwrap().is_ok());
        // …and is refused once they have failed.
        r2.failed();
        fail(&t, A, "ak-1").await;
        assert!(t.reserve(A, "ak-1").await.is_err());
        // Dropped unsettled: given back.
        let t = limit(1, 60);
        drop(t.reserve(A, "ak-1").await.unwrap());
        fail(&t, A, "ak-1").await;
    }

    #[tokio::test]
    async fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let t = limit(2, 60);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        fail(&t, a, "ak-1").await;
        fail(&t, b, "ak-1").await;
        assert!(t.reserve(a, "ak-1").await.is_err());
        t.reserve(other, "ak-1").await.unwrap().succeeded();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        fail(&t, mapped, "ak-1").await;
        fail(&t, A, "ak-1").await;
        assert!(t.reserve(A, "ak-1").await.is_err());
    }

    #[tokio::test]
    async fn the_window_ends() {
        let t = limit(1, 60);
        fail(&t, A, "ak-1").await;
        let now = Instant::now();
        assert!(matches!(t.try_reserve(A, "ak-1", now), Attempt::Refused(_)));
        assert_eq!(
            t.try_reserve(A, "ak-1", now + Duration::from_secs(61)),
            Attempt::Reserved
        );
    }

    #[tokio::test]
    async fn memory_is_bounded() {
        let t = limit(2, 60);
        for i in 0..(MAX_TRACKED as u32 + 5000) {
            fail(&t, IpAddr::V4(Ipv4Addr::from(i)), "ak-1").await;
        }
        assert!(t.tracked() <= MAX_TRACKED && t.tracked() > MAX_TRACKED / 2);
        // Successes leave nothing behind.
        let t = limit(2, 60);
        t.reserve(A, "ak-1").await.unwrap().succeeded();
        assert_eq!(t.tracked(), 0);
    }

    #[tokio::test]
    async fn zero_turns_it_off() {
        let t = limit(0, 60);
        for _ in 0..100 {
            fail(&t, A, "ak-1").await;
        }
        assert!(t.reserve(A, "ak-1").await.is_ok());
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn refusal_carries_a_retry_policy() {
        let status = refusal(Duration::from_millis(1500));
        assert_eq!(status.code(), Code::ResourceExhausted);
        let details = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(details.details[0].type_url, RPC_RETRY_POLICY_TYPE_URL);
        let policy = RpcRetryPolicy::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(policy.retry_after_secs, 2.0);
        assert!(status.message().contains("2 s"));
        let tiny = refusal(Duration::from_millis(1));
        let details = RpcStatus::decode(tiny.details()).unwrap();
        let policy = RpcRetryPolicy::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(policy.retry_after_secs, 1.0);
    }
}
