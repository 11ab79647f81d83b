//! The soak: 64 concurrent clients mixing every method (creates, overwrites, updates, deletes,
//! lookups, info, list pages, ephemeral creates, hello) against one real server binary on
//! loopback, for `SOAK_SECONDS` (default 60; the long run is 600), each logging every
//! acknowledged operation. Reads are checked against the log as they happen; afterwards every
//! name any log touched is read back (ids and keys from the server, values from the store with its
//! key) and must be what the log says, and the store must hold no name that no log made.
//! The server's log is searched for every value and the token secret: none may appear.
//!
//! `#[ignore]`d so that `cargo test` stays quick; `scripts/test.sh` runs it (`npm test`):
//! `SOAK_SECONDS=60 cargo test -p modal-secrets-server --release --test soak -- --ignored --nocapture`.
//! `SOAK_SEED=N` replays the clients' choices; `SOAK_LOG=PATH` writes the log of acknowledged
//! operations there (one line each: time, client, operation, name).

#![cfg(unix)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::workload::{Client, Conn, Known, Rng, Tally, check};
use common::{LoggedServer, binary_token};
use modal_secrets_server::local::store::Store;

const CLIENTS: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "runs for a minute: scripts/test.sh runs it with SOAK_SECONDS=60"]
async fn soak() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed = Rng::seed("SOAK_SEED");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let log_path = dir.path().join("server.log");
    let token = binary_token(&data, "soak");
    let server = LoggedServer::spawn(&["--data".as_ref(), data.as_os_str()], &log_path);
    assert!(server.url.starts_with("http://127.0.0.1:"), "loopback only");

    // A quarter each: gRPC, gRPC-web over HTTP/1.1, gRPC-web over HTTP/2, gRPC again.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let mut conn =
            Conn::connect(&server.url, &token, i % 4 == 1 || i % 4 == 2, i % 4 == 2).await;
        let mut client = Client::new(i, seed, true);
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let (tally, _) = client
                .run(&mut conn, started, || !stop.load(Ordering::Relaxed))
                .await;
            (client, tally)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut clients = Vec::new();
    let mut total = Tally::default();
    for task in tasks {
        let (client, tally) = task.await.unwrap();
        clients.push(client);
        total.merge(tally);
    }
    let ran = started.elapsed();

    // The store against the log.
    let store = Store::open(&data).expect("the store opens beside the server");
    let mut conn = Conn::connect(&server.url, &token, false, false).await;
    let checked_at = Instant::now();
    let found = check(&mut clients, &mut conn, &store).await;
    let check_took = checked_at.elapsed();
    drop(store);
    let exit = server.terminate(30);
    assert!(exit.success(), "{exit:?}");

    if let Ok(path) = std::env::var("SOAK_LOG") {
        let mut lines = total.log.clone();
        lines.sort_by_key(|l| l.at);
        let text: String = lines
            .iter()
            .map(|l| {
                format!(
                    "{:.6} c{} {} {}\n",
                    l.at.as_secs_f64(),
                    l.client,
                    l.op,
                    l.name
                )
            })
            .collect();
        std::fs::write(&path, text).expect("SOAK_LOG written");
    }

    // Nothing secret in the server's log: no value any client sent, no token secret.
    let server_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !server_log.contains(&token.secret),
        "the token secret is in the log"
    );
    let mut values = std::collections::HashSet::new();
    for client in &clients {
        for known in client.names.values() {
            if let Known::Sure(Some(present)) = known {
                values.extend(present.values.values().cloned());
            }
        }
    }
    let values_checked = values.len();
    let leaked = leaked_values(&server_log, &values);
    assert!(leaked.is_empty(), "values in the server's log: {leaked:?}");

    let (p50, p99) = total.percentiles();
    let errors: usize = total.errors.values().sum();
    eprintln!(
        "soak (SOAK_SEED={seed}): {CLIENTS} clients for {:.1} s on loopback: {} operations \
         ({:.0}/s) {:?}; {} acknowledged writes logged; errors {errors} {:?}; latency p50 \
         {p50:.2} ms, p99 {p99:.2} ms; checked {} names ({} settled from calls without an \
         answer) in {:.1} s: acknowledged operations lost {}, unexpected names {}, reads that \
         disagreed with the log {}; {values_checked} values and the token secret not in the \
         server's log ({} lines)",
        ran.as_secs_f64(),
        total.ops,
        total.ops as f64 / ran.as_secs_f64(),
        total.by_op,
        total.log.len(),
        total.errors,
        found.names,
        found.settled,
        check_took.as_secs_f64(),
        found.lost.len(),
        found.unexpected.len(),
        total.inconsistencies.len(),
        server_log.lines().count(),
    );
    assert!(found.lost.is_empty(), "lost: {:#?}", found.lost);
    assert!(found.unexpected.is_empty(), "{:?}", found.unexpected);
    assert!(
        total.inconsistencies.is_empty(),
        "{:#?}",
        total.inconsistencies
    );
    assert_eq!(errors, 0, "errors by kind: {:?}", total.errors);
    assert!(total.log.len() > 100, "the soak did too little");
}

/// The values (`v-…`, `u-…`, all of `[a-z0-9-]`) that occur anywhere in `log`: every place a value
/// could start is looked up in the set (a substring search per value would take minutes).
fn leaked_values(log: &str, values: &std::collections::HashSet<String>) -> Vec<String> {
    let longest = values.iter().map(String::len).max().unwrap_or(0);
    let bytes = log.as_bytes();
    let mut found = Vec::new();
    for start in 0..bytes.len() {
        if !matches!(bytes[start], b'v' | b'u') || bytes.get(start + 1) != Some(&b'-') {
            continue;
        }
        let end = (start + longest).min(bytes.len());
        for stop in start + 2..=end {
            if let Some(candidate) = log.get(start..stop)
                && values.contains(candidate)
            {
                found.push(candidate.to_owned());
            }
        }
    }
    found
}

#[test]
fn leaked_values_finds_a_value_inside_a_line() {
    let values: std::collections::HashSet<String> =
        ["v-c1-2-345".to_owned(), "u-77".to_owned()].into();
    assert!(leaked_values("CALL SecretList OK u-7 v-c1-2-34", &values).is_empty());
    assert_eq!(
        leaked_values("x=v-c1-2-345, y", &values),
        ["v-c1-2-345".to_owned()]
    );
    assert_eq!(leaked_values("au-77b", &values), ["u-77".to_owned()]);
}
