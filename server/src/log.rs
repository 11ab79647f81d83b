//! The server's log: one line per line of text on stderr, each stamped with UTC time (the one wall
//! clock, `clock.rs`). Callers pass only method names, statuses, durations, workspace names and
//! addresses: never a value, a token secret or a request body.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static QUIET: AtomicBool = AtomicBool::new(false);

/// Silences the log (tests that start many servers).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn info(message: &str) {
    line("INFO", message);
}

pub fn error(message: &str) {
    line("ERROR", message);
}

/// One finished call: `CALL SecretList OK 0.84ms workspace=local`.
pub fn call(method: &str, status: &str, duration: Duration, workspace: Option<&str>) {
    let ms = duration.as_secs_f64() * 1000.0;
    let workspace = workspace.unwrap_or("-");
    line(
        "CALL",
        &format!("{method} {status} {ms:.2}ms workspace={workspace}"),
    );
}

/// One call forwarded upstream (gateway mode): `CALL SecretList OK 1.32ms upstream`.
pub fn gateway_call(method: &str, status: &str, duration: Duration) {
    let ms = duration.as_secs_f64() * 1000.0;
    line("CALL", &format!("{method} {status} {ms:.2}ms upstream"));
}

fn line(level: &str, message: &str) {
    if QUIET.load(Ordering::Relaxed) {
        return;
    }
    // One eprintln! holds stderr's lock for the whole line, so lines never interleave.
    eprintln!("{} {level} {message}", timestamp(crate::clock::now()));
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-28T14:10:15.123Z`.
fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm, for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let at = |s: u64, ms: u64| {
            timestamp(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_764_339_015, 123), "2025-11-28T14:10:15.123Z");
    }
}
