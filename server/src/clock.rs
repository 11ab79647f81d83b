//! The server's one wall clock, and the conversions between the times it keeps.
//!
//! Every reading of the calendar goes through [`now`]: secrets', workspaces', environments' and
//! tokens' creation times in the store, the ephemeral sweep's cutoff, the issue and expiry times of
//! the JWTs AuthTokenGet hands out, the log's time stamps. (Timeouts, windows and ages measured in
//! memory use the monotonic `Instant`, which is not a wall clock.)
//!
//! The store keeps microseconds since the Unix epoch ([`now_micros`]); the wire carries seconds as
//! a double ([`us_to_secs`], [`micros_before`]); JWTs carry whole seconds ([`now_secs`]).

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock.
pub fn now() -> SystemTime {
    SystemTime::now()
}

/// Microseconds since the Unix epoch, as the store keeps times.
pub fn now_micros() -> i64 {
    now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whole seconds since the Unix epoch, as JWT claims carry them.
pub fn now_secs() -> u64 {
    now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
