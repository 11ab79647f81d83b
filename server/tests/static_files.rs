//! Plain GET/HEAD: `--www` at `/`, `--pkg` at `/pkg/`, content types, security headers, no
//! listing, no way out of either directory, and a clear 404 when the directories are missing.

use std::path::Path;

use modal_secrets_server::{Config, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const OUTSIDE: &str = "OUTSIDE-THE-TREE-7f3a";

struct Site {
    running: Running,
    dir: tempfile::TempDir,
}

/// A server whose www/ and pkg/ hold a few files, beside a file they must never reveal.
async fn site(allow_origins: Vec<String>) -> Site {
    modal_secrets_server::log::set_quiet(true);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("www/index.html", "<!doctype html><title>home</title>INDEX");
    write("www/style.css", "body{}");
    write("www/app.mjs", "export const a = 1;");
    write("www/app.js", "const b = 2;");
    write("www/sub/page.html", "SUBPAGE");
    write("www/empty/readme.txt", "no index here");
    write("www/.env", &format!("SECRET={OUTSIDE}"));
    write("pkg/package.json", r#"{"name":"modal-secrets"}"#);
    write("pkg/modal_secrets_bg.wasm", "\0asm\x01\0\0\0");
    write("pkg/node.cjs", "module.exports = {};");
    write("pkg/node.mjs", "export {};");
    write("pkg/index.d.ts", "export declare const x: number;");
    write("pkg/sub/a.js", "a");
    write("secret.txt", OUTSIDE);
    write("data/secret.txt", OUTSIDE);
    let running = start(root, &root.join("www"), &root.join("pkg"), allow_origins).await;
    Site { running, dir }
}

async fn start(data: &Path, www: &Path, pkg: &Path, allow_origins: Vec<String>) -> Running {
    modal_secrets_server::start(Config {
        allow_origins,
        www_dir: www.to_owned(),
        pkg_dir: pkg.to_owned(),
        ..Config::new("127.0.0.1:0", data.join("data"))
    })
    .await
    .expect("server starts")
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request with the target exactly as given (no client-side URL normalization, so
/// `..` and `%2e%2e` reach the server as written).
async fn raw(running: &Running, method: &str, target: &str, extra: &str) -> Answer {
    let mut stream = TcpStream::connect(running.local_addr()).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
        running.local_addr()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

async fn get(running: &Running, target: &str) -> Answer {
    raw(running, "GET", target, "").await
}

#[tokio::test]
async fn index_and_security_headers() {
    let site = site(vec!["https://app.example.com".to_owned()]).await;
    let answer = get(&site.running, "/").await;
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.body.contains("INDEX"));
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        answer.header("content-security-policy"),
        Some(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; connect-src 'self' https://app.example.com; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
    );
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-cache"));

    let answer = get(&site.running, "/index.html").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("INDEX"));
    let answer = get(&site.running, "/sub/page.html?v=1").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "SUBPAGE");

    // An allowed origin may import the package cross-origin; another may not.
    let answer = raw(
        &site.running,
        "GET",
        "/pkg/node.mjs",
        "Origin: https://app.example.com\r\n",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let answer = raw(
        &site.running,
        "GET",
        "/pkg/node.mjs",
        "Origin: https://evil.example\r\n",
    )
    .await;
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn content_types() {
    let site = site(Vec::new()).await;
    for (path, want) in [
        ("/style.css", "text/css; charset=utf-8"),
        ("/app.mjs", "text/javascript; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/pkg/modal_secrets_bg.wasm", "application/wasm"),
        ("/pkg/node.cjs", "text/javascript; charset=utf-8"),
        ("/pkg/node.mjs", "text/javascript; charset=utf-8"),
        ("/pkg/sub/a.js", "text/javascript; charset=utf-8"),
        ("/pkg/package.json", "application/json"),
        ("/pkg/index.d.ts", "application/typescript; charset=utf-8"),
        ("/pkg/node%2Emjs", "text/javascript; charset=utf-8"),
    ] {
        let answer = get(&site.running, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.head);
        assert_eq!(answer.header("content-type"), Some(want), "{path}");
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
        assert!(answer.header("content-security-policy").is_some(), "{path}");
    }
    let answer = get(&site.running, "/pkg/modal_secrets_bg.wasm").await;
    assert!(answer.body.starts_with("\0asm"));
}

#[tokio::test]
async fn head_range_and_conditional() {
    let site = site(Vec::new()).await;
    let answer = raw(&site.running, "HEAD", "/pkg/node.cjs", "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-length"), Some("20"));
    assert_eq!(answer.body, "");

    let answer = raw(
        &site.running,
        "GET",
        "/pkg/node.cjs",
        "Range: bytes=0-5\r\n",
    )
    .await;
    assert_eq!(answer.status, 206, "{}", answer.head);
    assert_eq!(answer.body, "module");

    let modified = get(&site.running, "/app.js").await;
    let last_modified = modified.header("last-modified").expect("last-modified");
    let answer = raw(
        &site.running,
        "GET",
        "/app.js",
        &format!("If-Modified-Since: {last_modified}\r\n"),
    )
    .await;
    assert_eq!(answer.status, 304, "{}", answer.head);
}

#[tokio::test]
async fn no_directory_listing() {
    let site = site(Vec::new()).await;
    // A directory without index.html, in either tree.
    for path in ["/empty/", "/pkg/", "/pkg/sub/", "/pkg/sub"] {
        let answer = get(&site.running, path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.head);
        assert!(!answer.body.contains("readme.txt") && !answer.body.contains("a.js"));
        assert_eq!(
            answer.header("content-type"),
            Some("text/html; charset=utf-8")
        );
    }
    // A directory without its slash: redirected to it, on this server.
    let answer = get(&site.running, "/sub").await;
    assert_eq!(answer.status, 307, "{}", answer.head);
    assert_eq!(answer.header("location"), Some("/sub/"));
}

#[tokio::test]
async fn no_way_out_of_the_trees() {
    let site = site(Vec::new()).await;
    let secret_path = site.dir.path().join("secret.txt");
    let absolute = secret_path.to_str().unwrap();
    let targets = [
        "/../secret.txt".to_owned(),
        "/%2e%2e/secret.txt".to_owned(),
        "/%2E%2E/secret.txt".to_owned(),
        "/%2e%2e%2fsecret.txt".to_owned(),
        "/sub/../../secret.txt".to_owned(),
        "/sub/%2e%2e/%2e%2e/secret.txt".to_owned(),
        "/sub/..%2f..%2fsecret.txt".to_owned(),
        "/..%5csecret.txt".to_owned(),
        "/pkg/../secret.txt".to_owned(),
        "/pkg/%2e%2e/secret.txt".to_owned(),
        "/pkg/..%2fsecret.txt".to_owned(),
        "/pkg/%2e%2e/data/secret.txt".to_owned(),
        "/pkg%2f..%2f..%2fsecret.txt".to_owned(),
        "/.env".to_owned(),
        "/%2eenv".to_owned(),
        format!("/{absolute}"),
        format!("//{absolute}"),
        format!("/%2F{}", &absolute[1..]),
        format!("/pkg/%2F{}", &absolute[1..]),
        format!("/pkg//{absolute}"),
        "/etc/passwd".to_owned(),
        "//etc/passwd".to_owned(),
        "/%2fetc%2fpasswd".to_owned(),
        "/C:/Windows/win.ini".to_owned(),
        "/%00".to_owned(),
        "/%ff%fe".to_owned(),
        format!("http://{}/../secret.txt", site.running.local_addr()),
    ];
    for target in &targets {
        let answer = get(&site.running, target).await;
        assert!(
            matches!(answer.status, 400 | 404),
            "{target}: {}",
            answer.head
        );
        assert!(!answer.body.contains(OUTSIDE), "{target} leaked the file");
        assert!(
            !answer.body.contains("root:"),
            "{target} leaked /etc/passwd"
        );
    }
    // The server is still there.
    assert_eq!(get(&site.running, "/").await.status, 200);
}

#[tokio::test]
async fn missing_directories_answer_a_clear_404() {
    modal_secrets_server::log::set_quiet(true);
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &dir.path().join("no-www"),
        &dir.path().join("no-pkg"),
        Vec::new(),
    )
    .await;
    let answer = get(&running, "/").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(answer.body.contains("--www"), "{}", answer.body);
    let answer = get(&running, "/pkg/node.cjs").await;
    assert_eq!(answer.status, 404);
    assert!(answer.body.contains("--pkg"), "{}", answer.body);
    let answer = raw(&running, "HEAD", "/", "").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body, "");
    // Still serving.
    assert_eq!(get(&running, "/").await.status, 404);
}

#[tokio::test]
async fn only_get_and_head_are_static() {
    let site = site(Vec::new()).await;
    // A POST to a file's path is not a file read: it goes to the gRPC stack, which refuses it.
    let answer = raw(
        &site.running,
        "POST",
        "/index.html",
        "Content-Type: text/plain\r\nContent-Length: 0\r\n",
    )
    .await;
    assert_ne!(answer.status, 200, "{}", answer.head);
    assert!(!answer.body.contains("INDEX"));
}

#[tokio::test]
async fn over_http2_too() {
    let site = site(Vec::new()).await;
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let url = format!("{}/pkg/modal_secrets_bg.wasm", site.running.url());
    let answer = http.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        answer.headers()["content-type"],
        "application/wasm",
        "{:?}",
        answer.headers()
    );
    assert!(answer.bytes().await.unwrap().starts_with(b"\0asm"));
}
