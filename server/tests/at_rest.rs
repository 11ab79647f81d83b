//! Secret values at rest, with the real binary: the database holds no value in the clear (read
//! directly with rusqlite, and byte by byte), a copy of it without its key file opens nowhere (the
//! server refuses to start, saying why), and `key rotate` re-seals a store while a server runs on it.

#![cfg(unix)]

mod common;

use std::path::Path;

use common::{BIN, Token, Web, create_request};
use modal_secrets_core::proto::{
    ObjectCreationType, SecretGetOrCreateRequest, SecretGetOrCreateResponse, SecretUpdateRequest,
    secret_update_request::Update,
};
use modal_secrets_server::local::sealing::KEY_FILE;
use modal_secrets_server::local::store::{DB_FILE, Store};

fn run(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn token_new(extra: &[&str]) -> Token {
    let mut args = vec!["token", "new"];
    args.extend_from_slice(extra);
    let (ok, out, err) = run(&args);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    common::audit::token(json["token_secret"].as_str().unwrap_or_default());
    Token {
        id: json["token_id"].as_str().unwrap().to_owned(),
        secret: json["token_secret"].as_str().unwrap().to_owned(),
    }
}

/// A value nobody could find in a file by chance.
fn sentinel(what: &str) -> String {
    let value = format!("SENTINEL-{what}-{}", std::process::id());
    common::audit::value(&value);
    value
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every cell of every table, as text or bytes, read with rusqlite from the file itself.
fn every_cell(db: &Path) -> Vec<Vec<u8>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the database opens without any key");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|t| t == "sealed_values"), "{tables:?}");
    let mut cells = Vec::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                use rusqlite::types::ValueRef;
                let cell = match row.get_ref(i).unwrap() {
                    ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
                    ValueRef::Integer(n) => n.to_string().into_bytes(),
                    ValueRef::Real(x) => x.to_string().into_bytes(),
                    ValueRef::Null => Vec::new(),
                };
                cells.push(cell);
            }
        }
    }
    cells
}

fn raw_files(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(DB_FILE) {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    bytes
}

async fn create(web: &Web, name: &str, pairs: &[(&str, &str)]) -> String {
    web.call(
        "SecretGetOrCreate",
        &create_request(name, ObjectCreationType::CreateFailIfExists, pairs),
    )
    .await
    .decode::<SecretGetOrCreateResponse>()
    .expect("created")
    .secret_id
}

async fn set(web: &Web, id: &str, key: &str, value: &str) {
    web.call(
        "SecretUpdate",
        &SecretUpdateRequest {
            secret_id: id.to_owned(),
            updates: vec![Update {
                key: key.to_owned(),
                value: Some(value.to_owned()),
            }],
        },
    )
    .await
    .decode::<()>()
    .expect("updated");
}

#[tokio::test]
async fn the_database_alone_reveals_no_value() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let data_s = data.to_str().unwrap();
    let token = token_new(&["--data", data_s]);
    let server = common::ServerProcess::spawn(["--data", data_s]);
    let web = Web::http1(&server.url, token.clone());
    let values = [
        sentinel("created"),
        sentinel("updated"),
        sentinel("overwritten"),
        sentinel("ephemeral"),
        sentinel("replaced-later"),
    ];
    let id = create(&web, "db", &[("PASSWORD", &values[0]), ("OLD", &values[4])]).await;
    set(&web, &id, "API_KEY", &values[1]).await;
    set(&web, &id, "OLD", "short").await;
    web.call(
        "SecretGetOrCreate",
        &create_request(
            "db2",
            ObjectCreationType::CreateOverwriteIfExists,
            &[("X", &values[2])],
        ),
    )
    .await
    .decode::<SecretGetOrCreateResponse>()
    .unwrap();
    let ephemeral = web
        .call(
            "SecretGetOrCreate",
            &SecretGetOrCreateRequest {
                object_creation_type: ObjectCreationType::Ephemeral as i32,
                env_dict: [("E".to_owned(), values[3].clone())].into(),
                ..Default::default()
            },
        )
        .await
        .decode::<SecretGetOrCreateResponse>()
        .unwrap()
        .secret_id;
    let (exit, log) = server.terminate(10);
    assert!(exit.success(), "{log}");

    // Read directly, without the key: no value in any cell, nor anywhere in the files' bytes.
    let cells = every_cell(&data.join(DB_FILE));
    let raw = raw_files(&data);
    for value in &values {
        assert!(
            !cells.iter().any(|c| contains(c, value)),
            "{value} in a cell"
        );
        assert!(!contains(&raw, value), "{value} in the database's bytes");
        assert!(!contains(log.as_bytes(), value), "{value} in the log");
    }
    assert!(!contains(&raw, &token.secret));

    // With its key, the values are all there.
    {
        let store = Store::open(&data).unwrap();
        let db = store.reveal_values(&id).unwrap();
        assert_eq!(db["PASSWORD"], values[0]);
        assert_eq!(db["API_KEY"], values[1]);
        assert_eq!(db["OLD"], "short");
        assert_eq!(store.reveal_values(&ephemeral).unwrap()["E"], values[3]);
    }

    // The database copied without its key file: the server will not start on it, and says why.
    let copy = dir.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(data.join(DB_FILE), copy.join(DB_FILE)).unwrap();
    let (ok, _, err) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        copy.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains(KEY_FILE), "{err}");
    assert!(!copy.join(KEY_FILE).exists(), "no new key made for it");
    // Nor with another store's key.
    let other = dir.path().join("other");
    token_new(&["--data", other.to_str().unwrap()]);
    let (ok, _, err) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        copy.to_str().unwrap(),
        "--key-file",
        other.join(KEY_FILE).to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("not this store's key"), "{err}");
    let (ok, _, err) = run(&["token", "new", "--data", copy.to_str().unwrap()]);
    assert!(!ok && err.contains("does not exist"), "{err}");
}

#[tokio::test]
async fn key_file_kept_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let key = dir.path().join("keys").join("modal.key");
    let (data_s, key_s) = (data.to_str().unwrap(), key.to_str().unwrap());
    let token = token_new(&["--data", data_s, "--key-file", key_s]);
    assert!(key.exists() && !data.join(KEY_FILE).exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let server = common::ServerProcess::spawn(["--data", data_s, "--key-file", key_s]);
    assert!(server.log.contains(key_s), "{}", server.log);
    let web = Web::http1(&server.url, token);
    create(&web, "x", &[("A", &sentinel("elsewhere"))]).await;
    let (exit, _) = server.terminate(10);
    assert!(exit.success());
    // The whole data directory copied: still no key in it.
    let (ok, _, err) = run(&["serve", "--listen", "127.0.0.1:0", "--data", data_s]);
    assert!(!ok && err.contains("does not exist"), "{err}");
    // A gateway has no store and takes no key file.
    let (ok, _, err) = run(&[
        "serve",
        "--upstream",
        "http://127.0.0.1:1",
        "--key-file",
        key_s,
    ]);
    assert!(!ok && err.contains("--key-file"), "{err}");
}

#[tokio::test]
async fn key_rotate_while_a_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("store");
    let data_s = data.to_str().unwrap();
    let token = token_new(&["--data", data_s]);
    let server = common::ServerProcess::spawn(["--data", data_s]);
    let web = Web::http1(&server.url, token.clone());
    let before = create(&web, "before", &[("A", "1"), ("B", "2")]).await;
    let old_key = std::fs::read(data.join(KEY_FILE)).unwrap();

    let (ok, out, err) = run(&["key", "rotate", "--data", data_s]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["resealed"], 2, "{out}");
    assert!(
        json["key_file"].as_str().unwrap().ends_with(KEY_FILE),
        "{out}"
    );
    assert_ne!(std::fs::read(data.join(KEY_FILE)).unwrap(), old_key);

    // The running server notices at its next write and seals with the new key.
    set(&web, &before, "C", "3").await;
    let after = create(&web, "after", &[("D", "4")]).await;
    let (exit, log) = server.terminate(10);
    assert!(exit.success(), "{log}");

    let store = Store::open(&data).unwrap();
    let values = store.reveal_values(&before).unwrap();
    assert_eq!(
        values.values().map(String::as_str).collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(store.reveal_values(&after).unwrap()["D"], "4");
    drop(store);
    // The old key file is useless now.
    let old = dir.path().join("old.key");
    std::fs::write(&old, &old_key).unwrap();
    let (ok, _, err) = run(&[
        "token",
        "new",
        "--data",
        data_s,
        "--key-file",
        old.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("not this store's key"), "{err}");
}

/// Finding 10 of issue 14: a data directory that already exists with looser permissions is made
/// 0700 when the store opens (the server, and `token new`); one owned by another user is refused
/// with a message saying so (checked when the test runs as root, which can make such a directory).
#[test]
fn an_existing_data_directory_is_made_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_arg = data.to_str().unwrap();
    token_new(&["--data", data_arg]);
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");
    // The store opened in-process does the same.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o775)).unwrap();
    drop(Store::open(&data).unwrap());
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{mode:o}");

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let foreign = dir.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let (ok, _, err) = run(&["token", "new", "--data", foreign.to_str().unwrap()]);
        assert!(!ok, "a directory of another user must be refused");
        assert!(err.contains("owned by"), "{err}");
        let meta = std::fs::metadata(&foreign).unwrap();
        assert_eq!(meta.uid(), 65534);
        assert_eq!(meta.permissions().mode() & 0o777, 0o755, "left as it was");
    } else {
        eprintln!("not root: the foreign-owner case is not checked");
    }
}
