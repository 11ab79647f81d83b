//! The binary: `token new`, `env new`, and `serve` answering calls, logging one line per call with
//! no secrets, and stopping cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Grpc, Token, create_request, lookup_request};
use modal_secrets_core::proto::ObjectCreationType;

const BIN: &str = env!("CARGO_BIN_EXE_modal-secrets-server");

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn token_new(data: &str, workspace: Option<&str>) -> serde_json::Value {
    let mut args = vec!["token", "new", "--data", data];
    if let Some(ws) = workspace {
        args.extend(["--workspace", ws]);
    }
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    serde_json::from_str(&stdout).expect("one JSON line")
}

#[test]
fn token_and_env_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let data = data.to_str().unwrap();
    let token = token_new(data, None);
    assert!(token["token_id"].as_str().unwrap().starts_with("ak-"));
    assert!(token["token_secret"].as_str().unwrap().starts_with("as-"));
    assert_eq!(token["workspace"], "local");
    let other = token_new(data, Some("team"));
    assert_eq!(other["workspace"], "team");
    assert_ne!(other["token_id"], token["token_id"]);

    let (ok, stdout, stderr) = run(&["env", "new", "dev", "--data", data]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"dev\""));
    let (ok, _, stderr) = run(&["env", "new", "dev", "--data", data]);
    assert!(!ok);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = run(&["env", "new", "bad env", "--data", data]);
    assert!(!ok);
    assert!(stderr.contains("invalid environment name"), "{stderr}");
    let (ok, _, _) = run(&["token", "new", "--data", data, "--workspace", ""]);
    assert!(!ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let data = data.to_str().unwrap().to_owned();
    let token = token_new(&data, None);
    let (ok, _, stderr) = run(&["env", "new", "dev", "--data", &data]);
    assert!(ok, "{stderr}");

    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", &data])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();

    let secret = token["token_secret"].as_str().unwrap().to_owned();
    let mut grpc = Grpc::connect(
        &url,
        Token {
            id: token["token_id"].as_str().unwrap().to_owned(),
            secret: secret.clone(),
        },
    )
    .await;
    let mut req = create_request(
        "logged",
        ObjectCreationType::CreateFailIfExists,
        &[("PASSWORD", "hunter2-value")],
    );
    req.environment_name = "dev".into();
    grpc.get_or_create(req).await.unwrap();
    grpc.get_or_create(lookup_request("missing"))
        .await
        .unwrap_err();
    drop(grpc);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut log = first;
    let reader = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(std::time::Instant::now() < deadline, "did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    log.push_str(&reader.join().unwrap());
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(log.contains("CALL SecretGetOrCreate OK"), "{log}");
    assert!(log.contains("CALL SecretGetOrCreate NOT_FOUND"), "{log}");
    assert!(log.contains("workspace=local"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(
        !log.contains("still open"),
        "the client closed on GOAWAY: {log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
    assert!(!log.contains(&secret), "{log}");
}

/// Waits for a child to exit, at most `secs` seconds.
fn wait_exit(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            return exit;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_www_and_pkg_flags_and_stop_with_parent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), "FROM-FLAG").unwrap();
    // Our parent is this test process: with its pid the server keeps running; the pid of a
    // process that is not its parent stands for a parent that has exited.
    let parent = std::process::id().to_string();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--www")
        .arg(dir.path().join("site"))
        .arg("--pkg")
        .arg(dir.path().join("no-pkg"))
        .args(["--stop-with-parent", &parent])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    let mut log = String::new();
    for _ in 0..2 {
        stderr.read_line(&mut log).unwrap();
    }
    assert!(log.contains("dashboard files from"), "{log}");
    assert!(log.contains("no package files"), "{log}");

    // Still running after a few of its parent checks; and serving --www.
    std::thread::sleep(Duration::from_millis(700));
    assert!(child.try_wait().unwrap().is_none(), "stopped early");
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("FROM-FLAG"), "{answer}");
    let _ = child.kill();
    let _ = child.wait();

    // A parent pid that is not (or no longer) the parent: it stops by itself, cleanly.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .args(["--stop-with-parent", "999999999"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let exit = wait_exit(&mut child, 10);
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains("shutting down (the parent process exited)"),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}
