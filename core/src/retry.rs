//! When to try a failed call again, and after how long: Modal's client policy (WIRE.md), as a pure
//! function so the transport loop holds no policy of its own.
//!
//! - Transient statuses (CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE) and lost
//!   connections are retried `max_retries` times, waiting 0.1 s, 0.2 s, 0.4 s … (doubling, at most 1 s).
//! - An answer carrying an `RPCRetryPolicy` (the server throttling us) is waited out for
//!   `max(retry_after, 0.1 s)` whatever its status, without counting as a retry, until the call's
//!   elapsed time would reach `max_throttle_wait` (`None`: no cap; zero: throttling is not honoured and
//!   the answer is handled like any other).
//! - A deadline (the caller's timeout) stops early when the wait would cross it.

use std::time::Duration;

use crate::error::Error;

/// Modal's defaults: 3 retries (4 attempts), 0.1 s doubling to at most 1 s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Cap on the call's elapsed time for throttle waits; see the module doc.
    pub max_throttle_wait: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_throttle_wait: None,
        }
    }
}

/// Where the call stands after a failed attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CallState {
    /// Counted retries made so far (throttle waits are not counted).
    pub retries: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// The caller's overall timeout, measured like `elapsed`.
    pub deadline: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// Wait `after`, then send again. `throttled`: the server asked for the wait (do not count it as
    /// a retry; send `x-throttle-retry-attempt`).
    Retry { after: Duration, throttled: bool },
    /// Give up and report the error.
    Stop,
}

/// The smallest wait honoured for a server's retry policy.
const MIN_THROTTLE_WAIT: Duration = Duration::from_millis(100);

impl RetryPolicy {
    /// What to do after `error` ended an attempt.
    pub fn decide(&self, error: &Error, state: CallState) -> Decision {
        if let Some(asked) = error.retry_after() {
            if self.max_throttle_wait != Some(Duration::ZERO) {
                let wait = asked.max(MIN_THROTTLE_WAIT);
                let resume_at = state.elapsed.saturating_add(wait);
                let over_cap = self.max_throttle_wait.is_some_and(|cap| resume_at >= cap);
                if over_cap || past(state.deadline, resume_at) {
                    return Decision::Stop;
                }
                return Decision::Retry {
                    after: wait,
                    throttled: true,
                };
            }
        }
        if !error.retryable() || state.retries >= self.max_retries {
            return Decision::Stop;
        }
        let wait = self.backoff(state.retries);
        if past(state.deadline, state.elapsed.saturating_add(wait)) {
            return Decision::Stop;
        }
        Decision::Retry {
            after: wait,
            throttled: false,
        }
    }

    /// The wait before counted retry number `retries + 1`: base × 2^retries, at most `max_delay`.
    pub fn backoff(&self, retries: u32) -> Duration {
        let factor = 1u32.checked_shl(retries.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }
}

fn past(deadline: Option<Duration>, at: Duration) -> bool {
    deadline.is_some_and(|d| at >= d)
}

/// A wait the server asked for, from `RPCRetryPolicy.retry_after_secs`: negative, NaN or absurd
/// values are clamped rather than trusted (a day at most).
pub fn retry_after_from_secs(secs: f32) -> Duration {
    const MAX_SECS: f32 = 86_400.0;
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    // Whole microseconds; `as` saturates, and the value is in range anyway.
    Duration::from_micros((secs.min(MAX_SECS) * 1e6) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use proptest::prelude::*;

    fn status(code: Code, retry_after: Option<Duration>) -> Error {
        Error::Status {
            code,
            message: String::new(),
            retry_after,
        }
    }

    fn at(retries: u32, elapsed_ms: u64) -> CallState {
        CallState {
            retries,
            elapsed: Duration::from_millis(elapsed_ms),
            deadline: None,
        }
    }

    fn retry_after_ms(ms: u64) -> Decision {
        Decision::Retry {
            after: Duration::from_millis(ms),
            throttled: false,
        }
    }

    #[test]
    fn transient_statuses_wait_100_200_400_then_stop() {
        let p = RetryPolicy::default();
        for code in [
            Code::Cancelled,
            Code::Unknown,
            Code::DeadlineExceeded,
            Code::Internal,
            Code::Unavailable,
        ] {
            let e = status(code, None);
            assert_eq!(p.decide(&e, at(0, 5)), retry_after_ms(100), "{code}");
            assert_eq!(p.decide(&e, at(1, 5)), retry_after_ms(200), "{code}");
            assert_eq!(p.decide(&e, at(2, 5)), retry_after_ms(400), "{code}");
            assert_eq!(p.decide(&e, at(3, 5)), Decision::Stop, "{code}");
        }
    }

    #[test]
    fn connection_failures_are_retried_like_transient_statuses() {
        let p = RetryPolicy::default();
        let e = Error::Connection("refused".into());
        assert_eq!(p.decide(&e, at(0, 0)), retry_after_ms(100));
        assert_eq!(p.decide(&e, at(3, 0)), Decision::Stop);
    }

    #[test]
    fn backoff_doubles_and_caps_at_one_second() {
        let p = RetryPolicy {
            max_retries: 10,
            ..RetryPolicy::default()
        };
        let waits: Vec<u128> = (0..8).map(|n| p.backoff(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn other_statuses_and_local_errors_stop_at_once() {
        let p = RetryPolicy::default();
        for code in Code::ALL.into_iter().filter(|c| !c.is_transient()) {
            assert_eq!(
                p.decide(&status(code, None), at(0, 0)),
                Decision::Stop,
                "{code}"
            );
        }
        for e in [
            Error::invalid("x"),
            Error::Cancelled,
            Error::Timeout(Duration::from_secs(1)),
            Error::Malformed(crate::Malformed::MissingStatus),
        ] {
            assert_eq!(p.decide(&e, at(0, 0)), Decision::Stop, "{e}");
        }
    }

    #[test]
    fn throttle_waits_whatever_the_status_and_does_not_count() {
        let p = RetryPolicy::default();
        let e = status(Code::ResourceExhausted, Some(Duration::from_millis(1500)));
        // Even after the counted retries ran out.
        assert_eq!(
            p.decide(&e, at(3, 10_000)),
            Decision::Retry {
                after: Duration::from_millis(1500),
                throttled: true
            }
        );
        // A tiny or zero retry_after is raised to 0.1 s.
        let e = status(Code::Unavailable, Some(Duration::ZERO));
        assert_eq!(
            p.decide(&e, at(0, 0)),
            Decision::Retry {
                after: Duration::from_millis(100),
                throttled: true
            }
        );
    }

    #[test]
    fn throttle_stops_when_the_wait_would_reach_the_cap() {
        let p = RetryPolicy {
            max_throttle_wait: Some(Duration::from_secs(5)),
            ..RetryPolicy::default()
        };
        let e = status(Code::ResourceExhausted, Some(Duration::from_secs(2)));
        assert!(matches!(
            p.decide(&e, at(0, 2_999)),
            Decision::Retry {
                throttled: true,
                ..
            }
        ));
        assert_eq!(p.decide(&e, at(0, 3_000)), Decision::Stop);
    }

    #[test]
    fn zero_cap_disables_throttling() {
        let p = RetryPolicy {
            max_throttle_wait: Some(Duration::ZERO),
            ..RetryPolicy::default()
        };
        // A throttled non-transient status simply stops...
        let e = status(Code::ResourceExhausted, Some(Duration::from_secs(2)));
        assert_eq!(p.decide(&e, at(0, 0)), Decision::Stop);
        // ...and a throttled transient one gets the ordinary backoff.
        let e = status(Code::Unavailable, Some(Duration::from_secs(2)));
        assert_eq!(p.decide(&e, at(0, 0)), retry_after_ms(100));
    }

    #[test]
    fn deadline_stops_a_wait_that_would_cross_it() {
        let p = RetryPolicy::default();
        let e = status(Code::Unavailable, None);
        let state = CallState {
            retries: 1,
            elapsed: Duration::from_millis(800),
            deadline: Some(Duration::from_secs(1)),
        };
        assert_eq!(p.decide(&e, state), Decision::Stop); // 800 + 200 >= 1000
        let state = CallState {
            elapsed: Duration::from_millis(799),
            ..state
        };
        assert_eq!(p.decide(&e, state), retry_after_ms(200));
        let throttled = status(Code::ResourceExhausted, Some(Duration::from_secs(1)));
        assert_eq!(p.decide(&throttled, state), Decision::Stop);
    }

    #[test]
    fn server_retry_after_is_clamped() {
        assert_eq!(retry_after_from_secs(f32::NAN), Duration::ZERO);
        assert_eq!(retry_after_from_secs(-3.0), Duration::ZERO);
        assert_eq!(
            retry_after_from_secs(f32::INFINITY),
            Duration::from_secs(86_400)
        );
        assert_eq!(retry_after_from_secs(0.25), Duration::from_millis(250));
    }

    proptest! {
        #[test]
        fn never_waits_longer_than_asked_or_capped(
            code in 0i32..17,
            retries in 0u32..100,
            elapsed_ms in 0u64..1_000_000,
            asked_ms in proptest::option::of(0u64..100_000),
            cap_ms in proptest::option::of(0u64..100_000),
            deadline_ms in proptest::option::of(0u64..1_000_000),
        ) {
            let p = RetryPolicy { max_throttle_wait: cap_ms.map(Duration::from_millis), ..RetryPolicy::default() };
            let e = status(Code::from_i32(code), asked_ms.map(Duration::from_millis));
            let state = CallState {
                retries,
                elapsed: Duration::from_millis(elapsed_ms),
                deadline: deadline_ms.map(Duration::from_millis),
            };
            match p.decide(&e, state) {
                Decision::Stop => {}
                Decision::Retry { after, throttled } => {
                    let resume = state.elapsed + after;
                    if let Some(d) = state.deadline { prop_assert!(resume < d); }
                    if throttled {
                        prop_assert!(after >= MIN_THROTTLE_WAIT);
                        if let Some(cap) = p.max_throttle_wait { prop_assert!(resume < cap); }
                    } else {
                        prop_assert!(after <= p.max_delay);
                        prop_assert!(retries < p.max_retries);
                        prop_assert!(Code::from_i32(code).is_transient());
                    }
                }
            }
        }
    }
}
