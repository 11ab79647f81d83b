//! Starting and stopping the server: bind, open the store (or, in gateway mode, set up the upstream
//! client), stack the layers (CORS outermost, then static files for plain GET/HEAD, then gRPC-web
//! translation, then authentication and logging) and serve until told to stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic_web::GrpcWebLayer;

use crate::clock;
use crate::gateway::{self, CaFile, Gateway, Upstream};
use crate::http::call_layer::CallLayer;
use crate::http::client_addr::ProxyList;
use crate::http::cors;
use crate::http::net::{self, ConnLimits};
use crate::http::static_files::{StaticConfig, StaticLayer};
use crate::http::throttle::{AuthLimit, Throttle};
use crate::limits::{
    DEFAULT_MAX_BUFFERED_BODY_BYTES, DEFAULT_WORKSPACE_QUOTA_BYTES, EPHEMERAL_TTL_SECS,
    MAX_REQUEST_BYTES,
};
use crate::local::auth::Auth;
use crate::local::idempotency::{Idempotency, IdempotencyLimits};
use crate::local::sealing::KEY_FILE;
use crate::local::service::Service;
use crate::local::store::{Store, StoreError};
use crate::log;
use crate::pb::modal_client_server::ModalClientServer;

/// How often expired ephemeral secrets are swept.
const JANITOR_PERIOD: Duration = Duration::from_secs(60 * 60);

/// What answers the calls.
#[derive(Clone, Debug)]
pub enum Mode {
    /// The local server, with its store in this directory.
    Local { data_dir: PathBuf },
    /// The gateway: every call is forwarded to this upstream (`https://host[:port]` or
    /// `http://host[:port]`); no store is opened.
    Gateway { upstream: String },
}

#[derive(Clone, Debug)]
pub struct Config {
    /// `host:port` to listen on; port 0 picks a free port.
    pub listen: String,
    /// Local server or gateway.
    pub mode: Mode,
    /// Origins allowed beside the server's own (`*` for any).
    pub allow_origins: Vec<String>,
    /// The dashboard, served at `/` to plain GET and HEAD.
    pub www_dir: PathBuf,
    /// The built npm package, served at `/pkg/`.
    pub pkg_dir: PathBuf,
    /// The store's key file (local mode); `None`: `store.key` in the data directory.
    pub key_file: Option<PathBuf>,
    /// Failed authentications allowed per client address (see `http/throttle.rs`).
    pub auth_limit: AuthLimit,
    /// How long and how many answers of keyed writes are kept (local mode; `local/idempotency.rs`).
    pub idempotency: IdempotencyLimits,
    /// Proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`): addresses or
    /// `ADDR/PREFIX` networks. None by default.
    pub trusted_proxies: Vec<String>,
    /// Caps and timeouts on connections (`http/net.rs`).
    pub connections: ConnLimits,
    /// Most bytes of request bodies held at once, by all calls together (`--max-buffered-body-bytes`).
    pub max_buffered_body_bytes: usize,
    /// Most bytes of keys and sealed values one workspace may hold (local mode;
    /// `--workspace-quota-bytes`).
    pub workspace_quota_bytes: u64,
    /// Gateway: forward every ModalClient method, not only the secrets ones
    /// (`--forward-all-methods`).
    pub forward_all_methods: bool,
    /// Gateway: PEM files of CA certificates its upstream's TLS trusts beside the built-in roots
    /// (`--upstream-ca`, `SSL_CERT_FILE`).
    pub upstream_ca: Vec<CaFile>,
}

impl Config {
    /// Listen on `listen` with the store in `data_dir`, no extra origins, and the dashboard and
    /// package from `www` and `pkg` in the working directory.
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: listen.into(),
            mode: Mode::Local {
                data_dir: data_dir.into(),
            },
            allow_origins: Vec::new(),
            www_dir: PathBuf::from("www"),
            pkg_dir: PathBuf::from("pkg"),
            key_file: None,
            auth_limit: AuthLimit::default(),
            idempotency: IdempotencyLimits::default(),
            trusted_proxies: Vec::new(),
            connections: ConnLimits::default(),
            max_buffered_body_bytes: DEFAULT_MAX_BUFFERED_BODY_BYTES,
            workspace_quota_bytes: DEFAULT_WORKSPACE_QUOTA_BYTES,
            forward_all_methods: false,
            upstream_ca: Vec::new(),
        }
    }

    /// A gateway to `upstream` listening on `listen`, otherwise as [`Config::new`].
    pub fn gateway(listen: impl Into<String>, upstream: impl Into<String>) -> Config {
        Config {
            mode: Mode::Gateway {
                upstream: upstream.into(),
            },
            ..Config::new(listen, PathBuf::new())
        }
    }
}

#[derive(Debug)]
pub enum StartError {
    Store(StoreError),
    Bind {
        listen: String,
        error: std::io::Error,
    },
    Origin(String),
    Upstream(String),
    /// An extra CA file for the upstream (the message names the flag and the path).
    UpstreamCa(String),
    TrustedProxy(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Store(e) => write!(f, "cannot open the store: {e}"),
            StartError::Bind { listen, error } => write!(f, "cannot listen on {listen}: {error}"),
            StartError::Origin(e) => write!(f, "--allow-origin: {e}"),
            StartError::Upstream(e) => write!(f, "--upstream: {e}"),
            StartError::UpstreamCa(e) => write!(f, "{e}"),
            StartError::TrustedProxy(e) => write!(f, "--trusted-proxy: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A server that is serving. Drop it and it keeps serving until the runtime ends; call
/// [`Running::shutdown`] to stop it cleanly.
pub struct Running {
    addr: SocketAddr,
    /// `None` in gateway mode.
    store: Option<Arc<Store>>,
    /// The upstream's origin in gateway mode.
    upstream: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<()>,
    janitor: Option<JoinHandle<()>>,
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, what `MODAL_SERVER_URL` is set to.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store; `None` for a gateway.
    pub fn store(&self) -> Option<&Arc<Store>> {
        self.store.as_ref()
    }

    /// The upstream's origin (`scheme://host[:port]`) for a gateway; `None` for a local server.
    pub fn upstream(&self) -> Option<&str> {
        self.upstream.as_deref()
    }

    /// Stops accepting, lets calls in flight finish, and returns once every connection has closed,
    /// or after `grace`: then connections still open (a client that ignores HTTP/2's GOAWAY, say)
    /// are dropped.
    pub async fn shutdown(mut self, grace: Duration) -> Result<(), String> {
        if let Some(janitor) = &self.janitor {
            janitor.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(grace, &mut self.serving).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the server task failed: {e}")),
            Err(_) => {
                self.serving.abort();
                log::info(&format!(
                    "connections still open after {grace:?}; closed them"
                ));
                Ok(())
            }
        }
    }
}

/// Opens the store (or sets up the gateway's upstream), binds and starts serving in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let trusted = ProxyList::parse(&config.trusted_proxies).map_err(StartError::TrustedProxy)?;
    let backend = match &config.mode {
        Mode::Local { data_dir } => {
            let data_dir = data_dir.clone();
            let key_file = config
                .key_file
                .clone()
                .unwrap_or_else(|| data_dir.join(KEY_FILE));
            let store = tokio::task::spawn_blocking(move || {
                Store::open_with_key_file(&data_dir, &key_file)
            })
            .await
            .map_err(|e| StartError::Store(StoreError::Io(std::io::Error::other(e.to_string()))))?
            .map_err(StartError::Store)?;
            store.set_workspace_quota(config.workspace_quota_bytes);
            Backend::Local(Arc::new(store))
        }
        Mode::Gateway { upstream } => {
            let upstream = Upstream::parse(upstream).map_err(StartError::Upstream)?;
            let roots = gateway::extra_roots(&upstream, &config.upstream_ca)
                .map_err(StartError::UpstreamCa)?;
            let gateway = Gateway::new(&upstream, roots)
                .map_err(StartError::Upstream)?
                .forward_all_methods(config.forward_all_methods);
            Backend::Gateway(gateway, upstream.origin())
        }
    };

    let bind_error = |error| StartError::Bind {
        listen: config.listen.clone(),
        error,
    };
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;

    let mut origins = cors::own_origins(addr);
    let mut extra_origins = Vec::new();
    for origin in &config.allow_origins {
        extra_origins.push(cors::normalize_origin(origin).map_err(StartError::Origin)?);
    }
    origins.extend(extra_origins.iter().cloned());
    let gateway_mode = matches!(backend, Backend::Gateway(..));
    let cors = cors::layer(&origins, gateway_mode).map_err(StartError::Origin)?;
    let files = StaticLayer::new(&StaticConfig {
        www_dir: absolute(&config.www_dir),
        pkg_dir: absolute(&config.pkg_dir),
        connect_origins: extra_origins,
    })
    .map_err(StartError::Origin)?;

    let stack = |calls: CallLayer, routes: tonic::service::Routes| -> CallStack {
        let calls = calls.with_limits(trusted.clone(), config.max_buffered_body_bytes);
        tower::util::BoxCloneSyncService::new(
            tower::ServiceBuilder::new()
                .layer(cors)
                .layer(files)
                .layer(GrpcWebLayer::new())
                .layer(calls)
                .service(routes),
        )
    };
    let throttle = Arc::new(Throttle::new(config.auth_limit));
    let (service, store, upstream) = match backend {
        Backend::Local(store) => {
            let auth = Arc::new(Auth::new(Arc::clone(&store)));
            let idempotency = Arc::new(Idempotency::new(config.idempotency));
            let service = ModalClientServer::new(Service::new(
                Arc::clone(&store),
                Arc::clone(&auth),
                idempotency,
            ))
            .max_decoding_message_size(MAX_REQUEST_BYTES);
            let service = stack(
                CallLayer::new(auth, throttle),
                tonic::service::Routes::new(service),
            );
            (service, Some(store), None)
        }
        Backend::Gateway(gateway, origin) => {
            let service = stack(
                CallLayer::gateway(throttle),
                tonic::service::Routes::new(gateway),
            );
            (service, None, Some(origin))
        }
    };

    let (stop, stopped) = oneshot::channel::<()>();
    let max_total = net::effective_max_connections(&config.connections, net::raise_nofile_limit());
    let serving = tokio::spawn(net::serve(
        listener,
        config.connections,
        max_total,
        service,
        async {
            let _ = stopped.await;
        },
    ));
    let janitor = store
        .as_ref()
        .map(|store| tokio::spawn(sweep_ephemeral(Arc::clone(store))));

    Ok(Running {
        addr,
        store,
        upstream,
        stop: Some(stop),
        serving,
        janitor,
    })
}

/// One HTTP request to a local server, answered in-process.
pub type CallStack = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    std::convert::Infallible,
>;

/// The local server's handling of a request as [`start`] stacks it, gRPC-web translation, then
/// authentication, the failed-authentication limit, framing checks and the log, then the service,
/// without the listener, CORS and static files: for fuzzing the request decoding in-process
/// (`fuzz/fuzz_targets/server_request.rs`). The peer address for the limit is the request's
/// `TcpConnectInfo` extension, as the listener sets it.
pub fn local_call_stack(store: Arc<Store>, auth_limit: AuthLimit) -> CallStack {
    let auth = Arc::new(Auth::new(Arc::clone(&store)));
    let idempotency = Arc::new(Idempotency::new(IdempotencyLimits::default()));
    let service = ModalClientServer::new(Service::new(store, Arc::clone(&auth), idempotency))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let stack = tower::ServiceBuilder::new()
        .layer(GrpcWebLayer::new())
        .layer(CallLayer::new(auth, Arc::new(Throttle::new(auth_limit))))
        .service(tonic::service::Routes::new(service));
    tower::util::BoxCloneSyncService::new(stack)
}

/// A gateway's handling of a request as [`start`] stacks it (gRPC-web translation, the
/// failed-authentication limit, the body limit and the log, then forwarding to `upstream`), without
/// the listener, CORS and static files: for fuzzing (`fuzz/fuzz_targets/gateway_request.rs`).
/// Must run inside a Tokio runtime.
pub fn gateway_call_stack(upstream: &str, auth_limit: AuthLimit) -> Result<CallStack, String> {
    let upstream = Upstream::parse(upstream)?;
    let gateway = Gateway::new(&upstream, Vec::new())?;
    let stack = tower::ServiceBuilder::new()
        .layer(GrpcWebLayer::new())
        .layer(CallLayer::gateway(Arc::new(Throttle::new(auth_limit))))
        .service(tonic::service::Routes::new(gateway));
    Ok(tower::util::BoxCloneSyncService::new(stack))
}

enum Backend {
    Local(Arc<Store>),
    /// The forwarding service and the upstream's origin.
    Gateway(Gateway, String),
}

/// `path` made absolute against the working directory at start (a later `chdir` changes nothing).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Removes ephemeral secrets older than [`EPHEMERAL_TTL_SECS`], now and then every hour.
async fn sweep_ephemeral(store: Arc<Store>) {
    let mut ticks = tokio::time::interval(JANITOR_PERIOD);
    loop {
        ticks.tick().await;
        let ttl_us = i64::try_from(EPHEMERAL_TTL_SECS * 1_000_000).unwrap_or(i64::MAX);
        let cutoff = clock::now_micros().saturating_sub(ttl_us);
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.remove_ephemeral_before(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => log::info(&format!("removed {n} expired ephemeral secrets")),
            Ok(Err(e)) => log::error(&format!("sweeping ephemeral secrets failed: {e}")),
            Err(e) => log::error(&format!("sweeping ephemeral secrets failed: {e}")),
        }
    }
}
