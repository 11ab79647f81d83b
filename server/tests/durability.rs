//! No acknowledged write is lost: the real binary on a temporary store takes a burst of concurrent
//! creates, is killed with SIGKILL in the middle of it, and is started again on the same store;
//! every create that had been answered OK must be there, with its keys.
//!
//! A name is recorded as acknowledged only once its OK answer has arrived, so a server that
//! answered before its commit was durable (or lost a committed write on restart) fails here.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BIN, Grpc, ServerProcess, Token, create_request, lookup_request};
use modal_secrets_core::proto::{ListPagination, ObjectCreationType, SecretListRequest};
use modal_secrets_server::local::store::Store;

/// Concurrent clients, each with its own HTTP/2 connection.
const TASKS: usize = 16;
/// Creates each client would make if the server lived.
const PER_TASK: usize = 50;
/// The server is killed once this many creates have been answered OK.
const KILL_AFTER: usize = 200;

/// name -> (secret id, keys), filled in only once the OK answer has arrived.
type Acknowledged = BTreeMap<String, (String, Vec<String>)>;

fn new_token(data: &std::path::Path) -> Token {
    let out = std::process::Command::new(BIN)
        .args(["token", "new", "--data"])
        .arg(data)
        .output()
        .expect("token new runs");
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    common::audit::token(json["token_secret"].as_str().unwrap_or_default());
    Token {
        id: json["token_id"].as_str().unwrap().to_owned(),
        secret: json["token_secret"].as_str().unwrap().to_owned(),
    }
}

/// The keys of the `i`th secret of a task: one to four of them.
fn keys_for(task: usize, i: usize) -> Vec<String> {
    (0..=(task + i) % 4).map(|k| format!("KEY_{k}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let token = new_token(&data);
    let mut server = ServerProcess::spawn(["--data".as_ref(), data.as_os_str()]);
    let pid = server.child.id();

    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let acks = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));

    let mut clients = Vec::new();
    for task in 0..TASKS {
        let mut grpc = Grpc::connect(&server.url, token.clone()).await;
        let acknowledged = Arc::clone(&acknowledged);
        let (acks, failed) = (Arc::clone(&acks), Arc::clone(&failed));
        clients.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let name = format!("burst-{task:02}-{i:03}");
                let keys = keys_for(task, i);
                let pairs: Vec<(&str, String)> = keys
                    .iter()
                    .map(|k| (k.as_str(), format!("value-of-{name}-{k}")))
                    .collect();
                let pairs: Vec<(&str, &str)> =
                    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let request = create_request(&name, ObjectCreationType::CreateFailIfExists, &pairs);
                match grpc.get_or_create(request).await {
                    Ok(created) => {
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert(name, (created.secret_id, keys));
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        // The server is gone: this client's call was in flight (or sent after).
                        failed.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
        }));
    }

    // The killer: SIGKILL as soon as KILL_AFTER creates have been acknowledged.
    let killer = {
        let (acks, killed) = (Arc::clone(&acks), Arc::clone(&killed));
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while acks.load(Ordering::SeqCst) < KILL_AFTER {
                assert!(tokio::time::Instant::now() < deadline, "the burst stalled");
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let status = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success());
            killed.store(true, Ordering::SeqCst);
            acks.load(Ordering::SeqCst)
        })
    };
    let acks_at_kill = killer.await.unwrap();
    for client in clients {
        client.await.unwrap();
    }
    let exit = tokio::task::spawn_blocking(move || {
        let exit = server.child.wait().expect("wait");
        (exit, server)
    })
    .await
    .unwrap();
    let (exit, server) = exit;
    drop(server);
    assert!(killed.load(Ordering::SeqCst));
    assert_eq!(exit.signal(), Some(9), "killed by SIGKILL: {exit:?}");

    let acknowledged = acknowledged.lock().unwrap().clone();
    let failed = failed.load(Ordering::SeqCst);
    assert!(
        acknowledged.len() < TASKS * PER_TASK && failed > 0,
        "the kill came mid-burst: {} acknowledged, {failed} failed",
        acknowledged.len()
    );

    // Again on the same store: every acknowledged create is there, with its id and keys.
    let server = ServerProcess::spawn(["--data".as_ref(), data.as_os_str()]);
    let mut grpc = Grpc::connect(&server.url, token.clone()).await;
    for (name, (id, keys)) in &acknowledged {
        let found = grpc
            .get_or_create(lookup_request(name))
            .await
            .unwrap_or_else(|status| panic!("acknowledged {name} is lost: {status}"));
        assert_eq!(&found.secret_id, id, "{name}");
        assert_eq!(&found.metadata.unwrap().keys, keys, "{name}");
    }
    // And the store is whole: the list pages through everything, each once.
    let mut present = 0;
    let mut before = 0.0;
    loop {
        let page = grpc
            .client
            .secret_list(grpc.request(SecretListRequest {
                environment_name: String::new(),
                pagination: Some(ListPagination {
                    max_objects: 100,
                    created_before: before,
                }),
            }))
            .await
            .expect("list")
            .into_inner();
        let Some(last) = page.items.last() else { break };
        before = last
            .metadata
            .as_ref()
            .and_then(|m| m.creation_info.as_ref())
            .expect("metadata on every item")
            .created_at;
        present += page.items.len();
    }
    assert!(present >= acknowledged.len());
    eprintln!(
        "durability: {TASKS} clients, SIGKILL after {acks_at_kill} acknowledged creates; \
         {} acknowledged in all, {failed} clients saw the kill, {present} secrets present after \
         restart, every acknowledged one with its keys",
        acknowledged.len()
    );
}

/// Rounds of the crash loop: `CRASH_ROUNDS` (npm test: 5; the long run: 20).
fn crash_rounds() -> usize {
    std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

/// Writers in the crash loop, half over gRPC, half over gRPC-web.
const WRITERS: usize = 8;

/// The crash loop: rounds of a mixed write load (creates, overwrites, updates, deletes from
/// `WRITERS` clients, each logging what was acknowledged), SIGKILL at a random moment, restart on
/// the same store. Each restart must open the store, and the store must hold every acknowledged
/// write of every round (ids, keys and values, read back with the store's key); a write cut off
/// by the kill may have happened or not, and is settled by what the store holds.
/// `CRASH_SEED=N` replays a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop() {
    use common::workload::{Client, Conn, Rng, Stop, Tally, check};
    use common::{LoggedServer, binary_token};

    let rounds = crash_rounds();
    let seed = Rng::seed("CRASH_SEED");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let log_path = dir.path().join("server.log");
    let token = binary_token(&data, "crash");
    let args = ["--data".as_ref(), data.as_os_str()];

    let mut clients: Vec<Client> = (0..WRITERS).map(|i| Client::new(i, seed, false)).collect();
    let mut total = Tally::default();
    let mut settled = 0;
    let mut kills_at = Vec::new();
    for round in 0..=rounds {
        let server = LoggedServer::spawn(&args, &log_path);
        let store = Store::open(&data).expect("the store opens after a SIGKILL");
        let mut conn = Conn::connect(&server.url, &token, false, false).await;
        let found = check(&mut clients, &mut conn, &store).await;
        assert!(
            found.lost.is_empty(),
            "round {round} (CRASH_SEED={seed}): acknowledged writes lost: {:#?}",
            found.lost
        );
        assert!(found.unexpected.is_empty(), "{:?}", found.unexpected);
        settled += found.settled;
        drop(store);
        if round == rounds {
            let exit = server.terminate(10);
            assert!(exit.success());
            break;
        }

        // The load, and a kill at a random moment of it.
        let stop = Arc::new(AtomicBool::new(false));
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for (i, mut client) in clients.drain(..).enumerate() {
            let mut conn = Conn::connect(&server.url, &token, i % 2 == 1, i % 4 == 3).await;
            let stop = Arc::clone(&stop);
            tasks.push(tokio::spawn(async move {
                let (tally, why) = client
                    .run(&mut conn, started, || !stop.load(Ordering::SeqCst))
                    .await;
                (client, tally, why)
            }));
        }
        let delay = Duration::from_millis(20 + rng.below(500) as u64);
        tokio::time::sleep(delay).await;
        let exit = tokio::task::spawn_blocking(move || server.kill9())
            .await
            .unwrap();
        assert_eq!(exit.signal(), Some(9), "{exit:?}");
        kills_at.push(delay.as_millis());
        stop.store(true, Ordering::SeqCst);
        let mut lost_answers = 0;
        for task in tasks {
            let (client, tally, why) = task.await.unwrap();
            lost_answers += usize::from(matches!(why, Stop::Lost));
            clients.push(client);
            total.merge(tally);
        }
        clients.sort_by_key(|c| c.index);
        assert!(lost_answers > 0, "round {round}: the kill cut off no call");
    }
    let acknowledged = total.log.len();
    assert!(acknowledged > 0);
    eprintln!(
        "crash loop (CRASH_SEED={seed}): {rounds} rounds of SIGKILL after {kills_at:?} ms of \
         load, the store opened every time; {acknowledged} acknowledged writes ({:?}), all \
         found; {settled} writes cut off by a kill settled either way; lost 0",
        total.by_op
    );
}
