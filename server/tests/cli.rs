//! The binary: `token new`, `env new`, and `serve` answering calls, logging one line per call with
//! no secrets, and stopping cleanly on SIGTERM.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, Grpc, ServerProcess, Token, create_request, lookup_request};
use modal_secrets_core::proto::ObjectCreationType;

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
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON line");
    common::audit::token(json["token_secret"].as_str().unwrap_or_default());
    json
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

    let server = ServerProcess::spawn(["--data", &data]);
    let secret = token["token_secret"].as_str().unwrap().to_owned();
    let mut grpc = Grpc::connect(
        &server.url,
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

    let (exit, log) = tokio::task::spawn_blocking(move || server.terminate(15))
        .await
        .unwrap();
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

#[test]
fn serve_www_and_pkg_flags_and_stop_with_parent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    std::fs::create_dir_all(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), "FROM-FLAG").unwrap();
    // Our parent is this test process: with its pid the server keeps running; the pid of a
    // process that is not its parent stands for a parent that has exited.
    let parent = std::process::id().to_string();
    let mut server = ServerProcess::spawn([
        "--data".as_ref(),
        data.as_os_str(),
        "--www".as_ref(),
        dir.path().join("site").as_os_str(),
        "--pkg".as_ref(),
        dir.path().join("no-pkg").as_os_str(),
        "--stop-with-parent".as_ref(),
        std::ffi::OsStr::new(&parent),
    ]);
    server.read_lines(2);
    assert!(
        server.log.contains("dashboard files from"),
        "{}",
        server.log
    );
    assert!(server.log.contains("no package files"), "{}", server.log);

    // Still running after a few of its parent checks; and serving --www.
    std::thread::sleep(Duration::from_millis(700));
    assert!(server.child.try_wait().unwrap().is_none(), "stopped early");
    let addr = server.addr();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(
        &mut stream,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("FROM-FLAG"), "{answer}");
    drop(server);

    // A parent pid that is not (or no longer) the parent: it stops by itself, cleanly.
    let server = ServerProcess::spawn([
        "--data".as_ref(),
        data.as_os_str(),
        "--stop-with-parent".as_ref(),
        "999999999".as_ref(),
    ]);
    let (exit, log) = server.finish(10);
    assert!(exit.success(), "{exit:?}\n{log}");
    assert!(
        log.contains("shutting down (the parent process exited)"),
        "{log}"
    );
    assert!(log.contains("stopped"), "{log}");
}
