//! A real server on port 0 with a temporary store, and two ways to call it: the tonic client (plain
//! gRPC over h2c) and gRPC-web over HTTP (reqwest, framed by the core's codec).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

pub mod audit;
pub mod native;
pub mod workload;

use modal_secrets_core::Redacted;
use modal_secrets_core::grpc_web::{self, CallMeta, HttpResponse, Limits};
use modal_secrets_core::proto::{
    ObjectCreationType, SecretGetOrCreateRequest, SecretGetOrCreateResponse,
};
use modal_secrets_server::http::throttle::AuthLimit;
use modal_secrets_server::pb::modal_client_client::ModalClientClient;
use modal_secrets_server::{Config, Running};
use prost::Message;
use tonic::transport::Channel;

pub struct TestServer {
    pub running: Option<Running>,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub token: Token,
    pub auth_limit: AuthLimit,
    /// Changes to the default configuration, applied again on restart.
    pub configure: Configure,
}

/// Changes to a test server's [`Config`].
pub type Configure = std::sync::Arc<dyn Fn(&mut Config) + Send + Sync>;

#[derive(Clone, Debug)]
pub struct Token {
    pub id: String,
    pub secret: String,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with_origins(Vec::new()).await
    }

    pub async fn start_with_origins(allow_origins: Vec<String>) -> TestServer {
        Self::start_with(allow_origins, AuthLimit::default()).await
    }

    /// With another limit on failed authentications (tests that fail on purpose many times).
    pub async fn start_with_auth_limit(auth_limit: AuthLimit) -> TestServer {
        Self::start_with(Vec::new(), auth_limit).await
    }

    async fn start_with(allow_origins: Vec<String>, auth_limit: AuthLimit) -> TestServer {
        Self::start_configured(std::sync::Arc::new(move |config: &mut Config| {
            config.allow_origins = allow_origins.clone();
            config.auth_limit = auth_limit;
        }))
        .await
    }

    /// With any configuration: `configure` changes the defaults (listen and data are set).
    pub async fn start_config(
        configure: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> TestServer {
        Self::start_configured(std::sync::Arc::new(configure)).await
    }

    async fn start_configured(configure: Configure) -> TestServer {
        modal_secrets_server::log::set_quiet(true);
        let dir = tempfile::tempdir().expect("tempdir");
        let running = start_in(&dir, &configure).await;
        let token = new_token(&running, "ws1");
        let mut probe = Config::new("", "");
        configure(&mut probe);
        TestServer {
            url: running.url(),
            running: Some(running),
            dir,
            token,
            auth_limit: probe.auth_limit,
            configure,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// A token for another (or the same) workspace.
    pub fn token_for(&self, workspace: &str) -> Token {
        new_token(self.running(), workspace)
    }

    pub async fn grpc(&self) -> Grpc {
        Grpc::connect(&self.url, self.token.clone()).await
    }

    pub fn web(&self) -> Web {
        Web::http1(&self.url, self.token.clone())
    }

    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running
                .shutdown(Duration::from_secs(5))
                .await
                .expect("clean shutdown");
        }
    }

    /// Stops and starts again on the same store (on a new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        let running = start_in(&self.dir, &self.configure).await;
        self.url = running.url();
        self.running = Some(running);
    }
}

async fn start_in(dir: &tempfile::TempDir, configure: &Configure) -> Running {
    let mut config = Config::new("127.0.0.1:0", dir.path().join("data"));
    configure(&mut config);
    modal_secrets_server::start(config)
        .await
        .expect("server starts")
}

fn new_token(running: &Running, workspace: &str) -> Token {
    let token = running
        .store()
        .expect("a local server")
        .create_token(workspace)
        .expect("token created");
    audit::token(token.token_secret.expose());
    Token {
        id: token.token_id,
        secret: token.token_secret.expose().clone(),
    }
}

pub fn dict(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub fn create_request(
    name: &str,
    kind: ObjectCreationType,
    pairs: &[(&str, &str)],
) -> SecretGetOrCreateRequest {
    for (_, value) in pairs {
        audit::value(value);
    }
    SecretGetOrCreateRequest {
        deployment_name: name.to_owned(),
        object_creation_type: kind as i32,
        env_dict: dict(pairs),
        ..Default::default()
    }
}

pub fn lookup_request(name: &str) -> SecretGetOrCreateRequest {
    SecretGetOrCreateRequest {
        deployment_name: name.to_owned(),
        ..Default::default()
    }
}

/// The tonic client with a token's headers on every call.
pub struct Grpc {
    pub client: ModalClientClient<Channel>,
    pub token: Option<Token>,
    pub auth_token: Option<String>,
}

impl Grpc {
    pub async fn connect(url: &str, token: Token) -> Grpc {
        let channel = Channel::from_shared(url.to_owned())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        Grpc {
            client: ModalClientClient::new(channel),
            token: Some(token),
            auth_token: None,
        }
    }

    pub fn with_token(&self, token: Option<Token>) -> Grpc {
        Grpc {
            client: self.client.clone(),
            token,
            auth_token: None,
        }
    }

    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let meta = request.metadata_mut();
        if let Some(token) = &self.token {
            meta.insert("x-modal-token-id", token.id.parse().expect("ascii"));
            meta.insert("x-modal-token-secret", token.secret.parse().expect("ascii"));
        }
        if let Some(jwt) = &self.auth_token {
            meta.insert("x-modal-auth-token", jwt.parse().expect("ascii"));
        }
        meta.insert("x-modal-client-type", "1".parse().expect("ascii"));
        request
    }

    pub async fn get_or_create(
        &mut self,
        req: SecretGetOrCreateRequest,
    ) -> Result<SecretGetOrCreateResponse, tonic::Status> {
        let request = self.request(req);
        self.client
            .secret_get_or_create(request)
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn create(&mut self, name: &str, pairs: &[(&str, &str)]) -> String {
        self.get_or_create(create_request(
            name,
            ObjectCreationType::CreateFailIfExists,
            pairs,
        ))
        .await
        .expect("create")
        .secret_id
    }
}

/// A gRPC-web answer: HTTP status, headers and body, decodable with the core's codec.
pub struct WebResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WebResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The message (read by prost), or the gRPC error as the package's client would see it.
    pub fn decode<M: Message + Default>(&self) -> Result<M, modal_secrets_core::Error> {
        let response = HttpResponse {
            status: self.status,
            headers: &self.headers,
            body: &self.body,
        };
        let decoded = grpc_web::decode_response(&response, Limits::default());
        let bytes = decoded.outcome?;
        M::decode(bytes).map_err(|e| {
            modal_secrets_core::Error::Malformed(modal_secrets_core::Malformed::BadMessage {
                message: std::any::type_name::<M>(),
                reason: e.to_string(),
            })
        })
    }

    pub fn code(&self) -> modal_secrets_core::Code {
        let response = HttpResponse {
            status: self.status,
            headers: &self.headers,
            body: &self.body,
        };
        match grpc_web::decode_response(&response, Limits::default()).outcome {
            Ok(_) => modal_secrets_core::Code::Ok,
            Err(modal_secrets_core::Error::Status { code, .. }) => code,
            Err(e) => panic!("not a gRPC-web answer: {e}"),
        }
    }

    /// The error message (percent-decoded), or "" for OK.
    pub fn message(&self) -> String {
        match self.decode::<()>() {
            Err(modal_secrets_core::Error::Status { message, .. }) => message,
            _ => String::new(),
        }
    }
}

/// gRPC-web over HTTP/1.1 (or HTTP/2 with prior knowledge).
pub struct Web {
    pub http: reqwest::Client,
    pub url: String,
    pub token: Option<Token>,
}

impl Web {
    pub fn http1(url: &str, token: Token) -> Web {
        Web {
            http: reqwest::Client::builder()
                .http1_only()
                .build()
                .expect("client"),
            url: url.to_owned(),
            token: Some(token),
        }
    }

    pub fn http2(url: &str, token: Token) -> Web {
        Web {
            http: reqwest::Client::builder()
                .http2_prior_knowledge()
                .build()
                .expect("client"),
            url: url.to_owned(),
            token: Some(token),
        }
    }

    /// Posts a message to a method with the headers the package's client sends.
    pub async fn call(&self, method: &str, message: &impl Message) -> WebResponse {
        let body = grpc_web::encode_request(message).expect("encode");
        self.call_raw(method, body, &[]).await
    }

    /// Posts raw body bytes, with extra headers (which replace the standard ones of that name).
    pub async fn call_raw(
        &self,
        method: &str,
        body: Vec<u8>,
        extra: &[(&str, &str)],
    ) -> WebResponse {
        let secret = Redacted::new(
            self.token
                .as_ref()
                .map(|t| t.secret.clone())
                .unwrap_or_default(),
        );
        let token_id = self
            .token
            .as_ref()
            .map(|t| t.id.clone())
            .unwrap_or_default();
        // One key per call, as clients send (the server keeps the answers of keyed writes).
        let idempotency_key = new_idempotency_key();
        let meta = CallMeta {
            token_id: &token_id,
            token_secret: &secret,
            client_type: 8,
            client_version: "test",
            host: "127.0.0.1",
            idempotency_key: &idempotency_key,
            attempt: 0,
            since_first: Duration::ZERO,
        };
        let mut request = self
            .http
            .post(format!("{}{}", self.url, grpc_web::method_path(method)));
        for (name, value) in grpc_web::request_headers(&meta).0 {
            let replaced = extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            let empty_credential = value.is_empty() && name.starts_with("x-modal-token");
            if !replaced && !empty_credential {
                request = request.header(name, value);
            }
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.expect("HTTP request");
        into_web_response(response).await
    }
}

/// A random UUID v4, as clients make one per call for `x-idempotency-key`.
pub fn new_idempotency_key() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub async fn into_web_response(response: reqwest::Response) -> WebResponse {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.expect("body").to_vec();
    WebResponse {
        status,
        headers,
        body,
    }
}

/// A gRPC-web answer, or why the HTTP exchange broke off (no panic: the server may have been
/// killed mid-answer).
pub async fn into_web_response_checked(response: reqwest::Response) -> Result<WebResponse, String> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    let body = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
    Ok(WebResponse {
        status,
        headers,
        body,
    })
}

/// The real binary serving on a free port, its log going to a file (read at any time, and never
/// a full pipe that would block the server however much it logs).
pub struct LoggedServer {
    pub child: std::process::Child,
    pub url: String,
    pub log_path: std::path::PathBuf,
    /// Where this process's part of the log starts (several runs may append to one file).
    log_start: usize,
}

impl LoggedServer {
    /// Runs `serve --listen 127.0.0.1:0 ARGS…` with stderr to `log_path` (appended), and waits
    /// (at most 30 s) for the line saying where it listens.
    pub fn spawn(args: &[&std::ffi::OsStr], log_path: &std::path::Path) -> LoggedServer {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .expect("log file");
        let start = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut child = std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(log)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the server binary runs");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log_path).unwrap_or_default();
            let fresh = text.get(start..).unwrap_or("");
            if let Some(url) = fresh
                .lines()
                .find(|l| l.contains("listening on"))
                .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            {
                return LoggedServer {
                    child,
                    url: url.trim_end_matches(',').to_owned(),
                    log_path: log_path.to_owned(),
                    log_start: start,
                };
            }
            if let Ok(Some(exit)) = child.try_wait() {
                panic!("the server exited ({exit}) before listening:\n{fresh}");
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not listen within 30 s:\n{fresh}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and the exit.
    pub fn kill9(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        wait_exit(&mut self.child, 30)
    }

    /// SIGTERM, and the exit (at most `secs`).
    pub fn terminate(mut self, secs: u64) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        wait_exit(&mut self.child, secs)
    }
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // This process's part of the log, for the secrets audit of npm test.
        if audit::dir().is_some() {
            let log = std::fs::read(&self.log_path).unwrap_or_default();
            audit::server_log(log.get(self.log_start..).unwrap_or_default());
        }
    }
}

/// `token new --data DIR` with the binary.
pub fn binary_token(data: &std::path::Path, workspace: &str) -> Token {
    let out = std::process::Command::new(BIN)
        .args(["token", "new", "--workspace", workspace, "--data"])
        .arg(data)
        .output()
        .expect("token new runs");
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    audit::token(json["token_secret"].as_str().unwrap_or_default());
    Token {
        id: json["token_id"].as_str().expect("token_id").to_owned(),
        secret: json["token_secret"]
            .as_str()
            .expect("token_secret")
            .to_owned(),
    }
}

/// The real binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_modal-secrets-server");

/// The binary serving on a free port, its stderr (the log) open for reading.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub stderr: std::io::BufReader<std::process::ChildStderr>,
    /// `http://ADDR` from the first log line.
    pub url: String,
    /// The log read so far (the first line at least).
    pub log: String,
}

impl ServerProcess {
    /// Runs `serve --listen 127.0.0.1:0 ARGS…` and waits for the line saying where it listens.
    pub fn spawn<I, S>(args: I) -> ServerProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        use std::io::BufRead;
        let mut child = std::process::Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the server binary runs");
        let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("a first log line");
        let Some(url) = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches(',').to_owned())
        else {
            let _ = child.kill();
            panic!("no URL in {first:?}");
        };
        ServerProcess {
            child,
            stderr,
            url,
            log: first,
        }
    }

    /// `ADDR` of `http://ADDR`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Reads `n` more log lines into `self.log`.
    pub fn read_lines(&mut self, n: usize) {
        use std::io::BufRead;
        for _ in 0..n {
            self.stderr.read_line(&mut self.log).expect("a log line");
        }
    }

    /// Sends SIGTERM and waits (at most `secs`) for the exit; returns it with the whole log.
    pub fn terminate(self, secs: u64) -> (std::process::ExitStatus, String) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        self.finish(secs)
    }

    /// Waits (at most `secs`) for the exit; returns it with the whole log.
    pub fn finish(mut self, secs: u64) -> (std::process::ExitStatus, String) {
        let exit = wait_exit(&mut self.child, secs);
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stderr, &mut rest);
        self.log.push_str(&rest);
        audit::server_log(self.log.as_bytes());
        (exit, std::mem::take(&mut self.log))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that failed half-way leaves no server behind.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The whole log, for the secrets audit of npm test (`finish` already gave it, if it ran).
        if audit::dir().is_some() {
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut self.stderr, &mut rest);
            let mut log = std::mem::take(&mut self.log).into_bytes();
            log.extend_from_slice(&rest);
            audit::server_log(&log);
        }
    }
}

/// Waits for a child to exit, at most `secs` seconds (then kills it and fails).
pub fn wait_exit(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(exit) = child.try_wait().expect("try_wait") {
            return exit;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("did not stop within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
