//! The server's benchmark (`bench/server.sh`, part of `npm run bench`): figures, not assertions.
//!
//! Runs the release binary as separate processes, on a temporary store:
//! - lookups per second: `SecretGetOrCreate` lookups over gRPC-web (HTTP/1.1, keep-alive), from 32
//!   concurrent connections, each sending its next call as soon as the last is answered;
//! - the gateway's added latency: one connection to the server and one to a gateway in front of it
//!   (`serve --upstream`), calls sent one at a time, alternating between the two, so both see the
//!   same machine state; p50 and p99 of each, and the differences.
//!
//! Each figure is measured `--runs` times (default 5); the report gives the median run with the
//! smallest and largest. Output is a Markdown fragment on stdout.
//!
//! `cargo bench -p modal-secrets-server --bench server -- [--bin PATH] [--runs N] [--seconds S]
//! [--connections N] [--calls N]`

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use modal_secrets_core::proto::{ObjectCreationType, SecretGetOrCreateRequest};
use prost::Message;
use tokio::net::TcpStream;

const LOOKUP_NAME: &str = "bench-secret";

struct Options {
    bin: PathBuf,
    runs: usize,
    seconds: f64,
    connections: usize,
    calls: usize,
}

fn options() -> Result<Options, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut o = Options {
        bin: root.join("target/release/modal-secrets-server"),
        runs: 5,
        seconds: 3.0,
        connections: 32,
        calls: 2000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--bin" => o.bin = PathBuf::from(value("--bin")?),
            "--runs" => {
                o.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--seconds" => {
                o.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--connections" => {
                o.connections = value("--connections")?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?
            }
            "--calls" => {
                o.calls = value("--calls")?
                    .parse()
                    .map_err(|e| format!("--calls: {e}"))?
            }
            // What cargo bench passes to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if o.runs == 0 || o.connections == 0 || o.calls < 100 || o.seconds <= 0.0 {
        return Err("--runs and --connections must be > 0, --calls >= 100, --seconds > 0".into());
    }
    if !o.bin.is_file() {
        return Err(format!(
            "{} is missing: cargo build --release -p modal-secrets-server",
            o.bin.display()
        ));
    }
    Ok(o)
}

fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = runtime.block_on(run(&options)) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

/// A server process; killed when dropped.
struct Process {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve` with `args` on a free port; its log (one line per call) is read and dropped by
/// a thread, as a terminal would take it.
fn serve(bin: &Path, args: &[&str]) -> Result<Process, String> {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--www",
            "/nonexistent",
            "--pkg",
            "/nonexistent",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let mut stderr = BufReader::new(child.stderr.take().ok_or("no stderr")?);
    let mut first = String::new();
    stderr
        .read_line(&mut first)
        .map_err(|e| format!("reading the server's log: {e}"))?;
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|a| a.trim_end_matches(',').parse().ok())
        .ok_or_else(|| format!("no address in {first:?}"))?;
    std::thread::spawn(move || {
        let mut sink = [0u8; 64 * 1024];
        while matches!(stderr.read(&mut sink), Ok(n) if n > 0) {}
    });
    Ok(Process { child, addr })
}

struct Token {
    id: String,
    secret: String,
}

fn token_new(bin: &Path, data: &Path) -> Result<Token, String> {
    let out = Command::new(bin)
        .args(["token", "new", "--data"])
        .arg(data)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "token new failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("token new: {e}"))?;
    let field = |k: &str| json[k].as_str().map(str::to_owned).ok_or(format!("no {k}"));
    Ok(Token {
        id: field("token_id")?,
        secret: field("token_secret")?,
    })
}

/// One gRPC-web call as the package makes it: its headers and framed body.
#[derive(Clone)]
struct Call {
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Call {
    fn new(token: &Token, host: &str, message: &impl Message) -> Call {
        let message = message.encode_to_vec();
        let mut body = Vec::with_capacity(5 + message.len());
        body.push(0);
        body.extend_from_slice(&u32::try_from(message.len()).unwrap_or(0).to_be_bytes());
        body.extend_from_slice(&message);
        Call {
            path: "/modal.client.ModalClient/SecretGetOrCreate",
            headers: vec![
                ("host", host.to_owned()),
                ("content-type", "application/grpc-web+proto".into()),
                ("x-grpc-web", "1".into()),
                ("x-modal-token-id", token.id.clone()),
                ("x-modal-token-secret", token.secret.clone()),
                ("x-modal-client-type", "8".into()),
                ("x-modal-client-version", "bench".into()),
                ("x-modal-host", host.to_owned()),
                (
                    "x-idempotency-key",
                    "00000000-0000-4000-8000-000000000000".into(),
                ),
                ("x-retry-attempt", "0".into()),
            ],
            body: Bytes::from(body),
        }
    }
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Connection { sender })
    }

    /// Sends the call; Ok if it was answered grpc-status 0.
    async fn call(&mut self, call: &Call) -> Result<(), String> {
        let mut request = hyper::Request::post(call.path);
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(call.body.clone()))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(status) = response.headers().get("grpc-status") {
            return Err(format!("grpc-status {status:?}"));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if body.ends_with(b"grpc-status:0\r\n") {
            Ok(())
        } else {
            Err(format!("not OK: {:?}", String::from_utf8_lossy(&body)))
        }
    }
}

/// Lookups per second from `connections` connections, each calling back to back, for `seconds`.
async fn throughput(
    addr: SocketAddr,
    call: &Call,
    connections: usize,
    seconds: f64,
) -> Result<f64, String> {
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        open.push(Connection::open(addr).await?);
    }
    let done = Arc::new(AtomicU64::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut connection in open {
        let (call, done, go, stop) = (call.clone(), done.clone(), go.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            // Warm up until the clock starts, then count.
            while !stop.load(Ordering::Relaxed) {
                connection.call(&call).await?;
                if go.load(Ordering::Relaxed) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok::<(), String>(())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    go.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let at_start = done.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let counted = done.load(Ordering::Relaxed) - at_start;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(counted as f64 / elapsed)
}

/// Latencies of `calls` calls on each of two connections, alternating, one call at a time.
async fn latencies(
    direct: SocketAddr,
    via: SocketAddr,
    direct_call: &Call,
    via_call: &Call,
    calls: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), String> {
    let mut a = Connection::open(direct).await?;
    let mut b = Connection::open(via).await?;
    for _ in 0..200 {
        a.call(direct_call).await?;
        b.call(via_call).await?;
    }
    let (mut da, mut db) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for i in 0..calls {
        // Alternate which goes first, so neither always follows the other.
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            let started = Instant::now();
            if which == 0 {
                a.call(direct_call).await?;
                da.push(started.elapsed());
            } else {
                b.call(via_call).await?;
                db.push(started.elapsed());
            }
        }
    }
    da.sort();
    db.sort();
    Ok((da, db))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Median, min and max of some runs.
fn summary(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

async fn run(o: &Options) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("store");
    let token = token_new(&o.bin, &data)?;
    let data_arg = data.to_str().ok_or("temporary path is not UTF-8")?;
    let server = serve(&o.bin, &["--data", data_arg])?;
    let upstream = format!("http://{}", server.addr);
    let gateway = serve(&o.bin, &["--upstream", &upstream])?;

    // The secret the lookups find (created through the gateway, which checks it works).
    let create = SecretGetOrCreateRequest {
        deployment_name: LOOKUP_NAME.into(),
        object_creation_type: ObjectCreationType::CreateIfMissing as i32,
        env_dict: [("API_KEY", "k"), ("DB_URL", "u"), ("REGION", "r")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ..Default::default()
    };
    let gateway_host = gateway.addr.to_string();
    Connection::open(gateway.addr)
        .await?
        .call(&Call::new(&token, &gateway_host, &create))
        .await
        .map_err(|e| format!("creating the secret: {e}"))?;
    let lookup = SecretGetOrCreateRequest {
        deployment_name: LOOKUP_NAME.into(),
        ..Default::default()
    };
    let direct_call = Call::new(&token, &server.addr.to_string(), &lookup);
    let via_call = Call::new(&token, &gateway_host, &lookup);

    eprintln!(
        "bench: lookups/s, {} connections, {} runs of {} s",
        o.connections, o.runs, o.seconds
    );
    let mut direct_rates = Vec::new();
    for run in 0..o.runs {
        let rate = throughput(server.addr, &direct_call, o.connections, o.seconds).await?;
        eprintln!("bench:   run {}: {rate:.0} lookups/s", run + 1);
        direct_rates.push(rate);
    }
    eprintln!("bench: lookups/s through the gateway");
    let mut gateway_rates = Vec::new();
    for run in 0..o.runs {
        let rate = throughput(gateway.addr, &via_call, o.connections, o.seconds).await?;
        eprintln!("bench:   run {}: {rate:.0} lookups/s", run + 1);
        gateway_rates.push(rate);
    }
    eprintln!(
        "bench: latency, {} sequential calls each way per run",
        o.calls
    );
    let (mut d50, mut d99, mut g50, mut g99, mut o50, mut o99) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 0..o.runs {
        let (direct, via) =
            latencies(server.addr, gateway.addr, &direct_call, &via_call, o.calls).await?;
        let (a50, a99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
        let (b50, b99) = (percentile(&via, 0.5), percentile(&via, 0.99));
        eprintln!(
            "bench:   run {}: direct p50 {a50:.3} p99 {a99:.3} ms, gateway p50 {b50:.3} p99 {b99:.3} ms",
            run + 1
        );
        d50.push(a50);
        d99.push(a99);
        g50.push(b50);
        g99.push(b99);
        o50.push(b50 - a50);
        o99.push(b99 - a99);
    }
    drop(gateway);
    drop(server);

    let rate = |v: Vec<f64>| {
        let (m, lo, hi) = summary(v);
        format!("{m:.0} | {lo:.0} | {hi:.0}")
    };
    let ms = |v: Vec<f64>| {
        let (m, lo, hi) = summary(v);
        format!("{m:.3} | {lo:.3} | {hi:.3}")
    };
    let (overhead50, _, _) = summary(o50.clone());
    let (direct_rate, _, _) = summary(direct_rates.clone());
    println!(
        "| lookups per second (gRPC-web, HTTP/1.1, {} connections, {} s per run) | median | min | max |",
        o.connections, o.seconds
    );
    println!("|---|---|---|---|");
    println!("| server, direct | {} |", rate(direct_rates));
    println!("| through the gateway | {} |", rate(gateway_rates));
    println!();
    println!(
        "| latency of one lookup, ms ({} sequential calls each way per run, alternating) | median | min | max |",
        o.calls
    );
    println!("|---|---|---|---|");
    println!("| direct p50 | {} |", ms(d50));
    println!("| gateway p50 | {} |", ms(g50));
    println!("| **added by the gateway, p50** | {} |", ms(o50));
    println!("| direct p99 | {} |", ms(d99));
    println!("| gateway p99 | {} |", ms(g99));
    println!("| added by the gateway, p99 | {} |", ms(o99));
    println!();
    println!(
        "The p99 rows are the slowest 1% of calls; on a small machine shared with other work they \
         are mostly scheduling noise, so the difference of the two p99s can even come out \
         negative. The p50 difference is the gateway's cost."
    );
    println!();
    println!(
        "Targets: at least 5,000 lookups/s ({}: {direct_rate:.0}); gateway p50 overhead at most \
         0.3 ms ({}: {overhead50:.3} ms).",
        if direct_rate >= 5000.0 {
            "met"
        } else {
            "NOT met"
        },
        if overhead50 <= 0.3 { "met" } else { "NOT met" },
    );
    Ok(())
}
