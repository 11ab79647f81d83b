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
