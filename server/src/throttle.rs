//! A limit on failed authentications per client address: after `max_failures` calls answered
//! UNAUTHENTICATED within `window` of an address's first failure, every call from that address is
//! refused, before its credentials are looked at, with RESOURCE_EXHAUSTED and an `RPCRetryPolicy`
//! saying when the window ends. Then the address starts afresh.
//!
//! - A success does not reset the count: otherwise a caller with one valid token of its own could
//!   interleave it with unlimited guesses at other tokens.
//! - IPv6 addresses count per /64 (one host usually holds a whole /64); IPv4-mapped IPv6 counts as
//!   the IPv4 address.
//! - The table is bounded ([`MAX_TRACKED`] addresses): when it is full, finished windows are
//!   dropped, and if none has finished, the tenth whose windows started first. An attacker with
//!   more addresses than that can reset its own oldest entries, but never grow memory.
//! - The address is the TCP peer's. `X-Forwarded-For` and the like are not believed (anyone can
//!   send them); behind a reverse proxy every caller shares the proxy's address.
//! - Token secrets are ~190 random bits, so guessing is hopeless anyway; the limit keeps a guesser
//!   (or a misconfigured client in a loop) from costing the server, or a gateway's shared address
//!   being blocked by its upstream because of one caller.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use modal_secrets_core::proto::{RPC_RETRY_POLICY_TYPE_URL, RpcRetryPolicy, RpcStatus};
use prost::Message;
use tonic::{Code, Status};

/// Most addresses remembered at once.
pub const MAX_TRACKED: usize = 10_000;

/// How many failed authentications an address may have per window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthLimit {
    /// Failures allowed in one window; 0 turns the limit off.
    pub max_failures: u32,
    /// The window, from an address's first failure.
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

#[derive(Clone, Copy, Debug)]
struct Entry {
    window_start: Instant,
    failures: u32,
}

#[derive(Debug)]
pub struct Throttle {
    limit: AuthLimit,
    table: Mutex<HashMap<IpAddr, Entry>>,
}

impl Throttle {
    pub fn new(limit: AuthLimit) -> Throttle {
        Throttle {
            limit,
            table: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` if calls from `addr` are refused now, for `wait` more.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.limit.max_failures == 0 {
            return Ok(());
        }
        let table = self.lock();
        match table.get(&bucket(addr)) {
            Some(entry) if entry.failures >= self.limit.max_failures => {
                let ends = entry.window_start + self.limit.window;
                match ends.checked_duration_since(now) {
                    Some(wait) if !wait.is_zero() => Err(wait),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// A call from `addr` failed to authenticate.
    pub fn record_failure(&self, addr: IpAddr, now: Instant) {
        if self.limit.max_failures == 0 {
            return;
        }
        let key = bucket(addr);
        let window = self.limit.window;
        let expired = |e: &Entry| now.saturating_duration_since(e.window_start) >= window;
        let mut table = self.lock();
        if !table.contains_key(&key) && table.len() >= MAX_TRACKED {
            table.retain(|_, e| !expired(e));
            if table.len() >= MAX_TRACKED {
                // Drop the tenth whose windows started first, so the next inserts find room
                // without another scan.
                let mut starts: Vec<Instant> = table.values().map(|e| e.window_start).collect();
                let (_, cutoff, _) = starts.select_nth_unstable(MAX_TRACKED / 10);
                let cutoff = *cutoff;
                table.retain(|_, e| e.window_start > cutoff);
            }
        }
        let entry = table.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
        });
        if expired(entry) {
            *entry = Entry {
                window_start: now,
                failures: 0,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
    }

    /// Addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What one address counts as: itself for IPv4, its /64 for IPv6.
fn bucket(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// RESOURCE_EXHAUSTED with an `RPCRetryPolicy` of `wait` (rounded up to whole seconds, at least
/// one) in `grpc-status-details-bin`, which Modal's clients (and this package) wait out.
pub fn refusal(wait: Duration) -> Status {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let message =
        format!("too many failed authentications from this address; try again in {secs} s");
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

    fn limit(n: u32, secs: u64) -> Throttle {
        Throttle::new(AuthLimit {
            max_failures: n,
            window: Duration::from_secs(secs),
        })
    }

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let t = limit(3, 60);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check(A, t0), Ok(()), "{i}");
            t.record_failure(A, t0 + Duration::from_secs(i));
        }
        assert_eq!(
            t.check(A, t0 + Duration::from_secs(10)),
            Err(Duration::from_secs(50))
        );
        // Another address is not affected.
        assert_eq!(t.check(B, t0 + Duration::from_secs(10)), Ok(()));
        // The window ends 60 s after the first failure.
        assert_eq!(t.check(A, t0 + Duration::from_secs(60)), Ok(()));
        // And a new one starts from zero.
        t.record_failure(A, t0 + Duration::from_secs(61));
        assert_eq!(t.check(A, t0 + Duration::from_secs(62)), Ok(()));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_v4_as_v4() {
        let t = limit(2, 60);
        let now = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        t.record_failure(a, now);
        t.record_failure(b, now);
        assert!(t.check(a, now).is_err());
        assert!(t.check(other, now).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        t.record_failure(mapped, now);
        t.record_failure(A, now);
        assert!(t.check(A, now).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let t = limit(2, 60);
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 5000) {
            let at = now + Duration::from_micros(u64::from(i));
            t.record_failure(IpAddr::V4(Ipv4Addr::from(i)), at);
        }
        assert!(t.tracked() <= MAX_TRACKED && t.tracked() > MAX_TRACKED / 2);
        // Finished windows make room first.
        let later = now + Duration::from_secs(61);
        let before = t.tracked();
        let fresh = MAX_TRACKED - before + 1;
        for j in 0..fresh {
            t.record_failure(IpAddr::V4(Ipv4Addr::from(1_000_000 + j as u32)), later);
        }
        assert_eq!(t.tracked(), fresh);
    }

    #[test]
    fn zero_turns_it_off() {
        let t = limit(0, 60);
        let now = Instant::now();
        for _ in 0..100 {
            t.record_failure(A, now);
        }
        assert_eq!(t.check(A, now), Ok(()));
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
