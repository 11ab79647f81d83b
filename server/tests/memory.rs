//! Finding 4 of issue 14: request bodies held at once are budgeted (`--max-buffered-body-bytes`,
//! default 64 MiB), on the gateway and on the local server; a call whose body would pass the
//! budget is answered RESOURCE_EXHAUSTED (trailers-only, with a retry policy). 100 connections
//! sending 4 MiB bodies to the real gateway binary keep its RSS under the stated budget.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{LoggedServer, TestServer, Token};
use modal_secrets_server::limits::{DEFAULT_MAX_BUFFERED_BODY_BYTES, MAX_REQUEST_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The head of a gRPC-web POST of `len` body bytes.
fn head(token: &Token, len: usize) -> String {
    format!(
        "POST /modal.client.ModalClient/SecretGetOrCreate HTTP/1.1\r\nhost: x\r\n\
         content-type: application/grpc-web+proto\r\nx-modal-token-id: {}\r\n\
         x-modal-token-secret: {}\r\nconnection: close\r\ncontent-length: {len}\r\n\r\n",
        token.id, token.secret
    )
}

/// A body of one frame announcing (and holding) `len` bytes of a message that does not decode.
fn big_body(len: usize) -> Vec<u8> {
    let mut body = vec![0u8; 5 + len];
    body[1..5].copy_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    body
}

/// The gRPC status of an HTTP/1.1 answer (header or trailer frame), if one came.
fn grpc_status(answer: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(answer).to_ascii_lowercase();
    let at = text.find("grpc-status:")?;
    text[at + 12..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Sends `body` in one POST (writes bounded by `write_for`), then reads the answer (at most 30 s).
async fn post(addr: SocketAddr, token: Token, body: Arc<Vec<u8>>) -> Option<u32> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(head(&token, body.len()).as_bytes())
        .await
        .ok()?;
    // The server may answer (and stop reading) before the body is all sent.
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.write_all(&body)).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if grpc_status(&answer).is_some() {
                        break;
                    }
                }
            }
        }
    })
    .await;
    grpc_status(&answer)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// How far past its body budget a gateway's RSS may go: the runtime, the binary's own pages, and
/// the connections' buffers (hyper's, the kernel's are not counted).
const RSS_OVERHEAD_MIB: u64 = 64;

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_under_100_bodies_of_4_mib_stays_under_its_budget() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gateway = LoggedServer::spawn(
        &[
            "--upstream".as_ref(),
            server.url.as_ref(),
            "--max-auth-failures".as_ref(),
            "0".as_ref(),
        ],
        &dir.path().join("gateway.log"),
    );
    let pid = gateway.pid();
    let addr: SocketAddr = gateway.url.trim_start_matches("http://").parse().unwrap();
    let before = status_kib(pid, "VmRSS:");
    let body = Arc::new(big_body(MAX_REQUEST_BYTES));
    let started = Instant::now();
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS:"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak
        })
    };
    let calls: Vec<_> = (0..100)
        .map(|_| tokio::spawn(post(addr, server.token.clone(), Arc::clone(&body))))
        .collect();
    let mut codes = std::collections::BTreeMap::new();
    for call in calls {
        *codes.entry(call.await.unwrap()).or_insert(0) += 1;
    }
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    let hwm = status_kib(pid, "VmHWM:");
    let budget_mib = (DEFAULT_MAX_BUFFERED_BODY_BYTES >> 20) as u64;
    eprintln!(
        "gateway RSS: {} MiB before, peak sampled {} MiB, high-water mark {} MiB (budget {} MiB \
         + {RSS_OVERHEAD_MIB} MiB overhead); answers {codes:?} in {:?}",
        before / 1024,
        peak / 1024,
        hwm / 1024,
        budget_mib,
        started.elapsed()
    );
    // Some were refused for the budget (8), the others forwarded (the upstream refuses the
    // message as INVALID_ARGUMENT, 3).
    assert!(codes.get(&Some(8)).copied().unwrap_or(0) > 0, "{codes:?}");
    assert!(codes.get(&Some(3)).copied().unwrap_or(0) > 0, "{codes:?}");
    assert!(
        hwm / 1024 < budget_mib + RSS_OVERHEAD_MIB,
        "high-water mark {} MiB",
        hwm / 1024
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_bodies_past_its_budget_with_a_retry_policy() {
    let budget = 2 * (MAX_REQUEST_BYTES + 5);
    let server = TestServer::start_config(move |config| {
        config.max_buffered_body_bytes = budget;
    })
    .await;
    let addr = server.running().local_addr();
    let body = Arc::new(big_body(MAX_REQUEST_BYTES));
    // Ten bodies sent at once, each in two halves with a pause between, so they overlap.
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (token, body, barrier) = (
                server.token.clone(),
                Arc::clone(&body),
                Arc::clone(&barrier),
            );
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                stream
                    .write_all(head(&token, body.len()).as_bytes())
                    .await
                    .unwrap();
                let half = body.len() / 2;
                let first =
                    tokio::time::timeout(Duration::from_secs(5), stream.write_all(&body[..half]))
                        .await;
                barrier.wait().await;
                if matches!(first, Ok(Ok(()))) {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        stream.write_all(&body[half..]),
                    )
                    .await;
                }
                let mut answer = Vec::new();
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
                        .await;
                (
                    grpc_status(&answer),
                    String::from_utf8_lossy(&answer).into_owned(),
                )
            })
        })
        .collect();
    let mut refused = 0;
    let mut served = 0;
    for call in calls {
        let (code, answer) = call.await.unwrap();
        match code {
            Some(8) => {
                refused += 1;
                assert!(
                    answer
                        .to_ascii_lowercase()
                        .contains("grpc-status-details-bin"),
                    "{answer}"
                );
            }
            Some(3) => served += 1,
            other => panic!("{other:?}: {answer}"),
        }
    }
    eprintln!("budget {budget} bytes: {served} read whole, {refused} refused");
    assert!(
        refused > 0 && served > 0 && served <= 2,
        "{served} served, {refused} refused"
    );
    // And the server answers normally afterwards.
    let answer = server
        .web()
        .call("SecretGetOrCreate", &common::lookup_request("x"))
        .await;
    assert_eq!(answer.code(), modal_secrets_core::Code::NotFound);
}
