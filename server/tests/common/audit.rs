//! The secrets audit of `npm test` (`tests/audit/` at the repository root): when
//! `MODAL_SECRETS_AUDIT_DIR` is set (scripts/test.sh sets it), the token secrets and values these
//! tests send are recorded there (`secrets-rust-<test>-<pid>.jsonl`) and the log of every server
//! process they start is copied there (`server-rust-<test>-<pid>-<n>.log`); tests/audit/ then
//! searches every log of the run for every secret. Without the variable nothing happens.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The audit directory, if this run has one.
pub fn dir() -> Option<PathBuf> {
    std::env::var_os("MODAL_SECRETS_AUDIT_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// This test binary's name without cargo's hash (`soak`, `at_rest`, …).
fn label() -> String {
    let stem = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rust".to_owned());
    match stem.rsplit_once('-') {
        Some((name, _hash)) => name.to_owned(),
        None => stem,
    }
}

static RECORDS: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Records a secret used by a test: `kind` is "value" or "token".
pub fn record(kind: &str, value: &str) {
    let Some(dir) = dir() else { return };
    if value.is_empty() {
        return;
    }
    let line = serde_json::json!({
        "kind": kind,
        "value": value,
        "from": format!("server/tests/{}", label()),
    });
    let mut file = RECORDS.lock().unwrap_or_else(|e| e.into_inner());
    if file.is_none() {
        std::fs::create_dir_all(&dir).expect("the audit directory");
        let path = dir.join(format!(
            "secrets-rust-{}-{}.jsonl",
            label(),
            std::process::id()
        ));
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the audit's record file");
        *file = Some(opened);
    }
    if let Some(f) = file.as_mut() {
        f.write_all(format!("{line}\n").as_bytes())
            .expect("the audit's record file is written");
    }
}

/// Records a secret value.
pub fn value(value: &str) {
    record("value", value);
}

/// Records a token secret.
pub fn token(secret: &str) {
    record("token", secret);
}

static SERVERS: AtomicUsize = AtomicUsize::new(0);

/// Copies what one server process logged into the audit directory.
pub fn server_log(log: &[u8]) {
    let Some(dir) = dir() else { return };
    if log.is_empty() {
        return;
    }
    std::fs::create_dir_all(&dir).expect("the audit directory");
    let n = SERVERS.fetch_add(1, Ordering::Relaxed) + 1;
    let path = dir.join(format!(
        "server-rust-{}-{}-{n}.log",
        label(),
        std::process::id()
    ));
    std::fs::write(path, log).expect("the audit's server log is written");
}
