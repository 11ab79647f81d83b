//! The `modal-secrets-server` command: `serve` (the default), `token new`, `env new`, `key rotate`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use modal_secrets_core::validate;
use modal_secrets_server::gateway::{CaFile, UPSTREAM_CA_FLAG};
use modal_secrets_server::http::net::ConnLimits;
use modal_secrets_server::http::throttle::AuthLimit;
use modal_secrets_server::limits::{
    DEFAULT_MAX_BUFFERED_BODY_BYTES, DEFAULT_WORKSPACE_QUOTA_BYTES, MAX_REQUEST_BYTES,
};
use modal_secrets_server::local::idempotency::IdempotencyLimits;
use modal_secrets_server::local::sealing::{self, KEY_FILE};
use modal_secrets_server::local::store::{DEFAULT_WORKSPACE, Store};
use modal_secrets_server::{Config, Mode, log, start};

const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
const DEFAULT_DATA: &str = "./.modal-secrets";
const DEFAULT_WWW: &str = "www";
const DEFAULT_PKG: &str = "pkg";

/// How long a shutdown waits for calls in flight and for clients to close their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Parser)]
#[command(
    name = "modal-secrets-server",
    version,
    about = "A Modal-compatible secrets server: gRPC and gRPC-web on one port, SQLite store"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Manage tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage environments.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Manage the key that seals the store's values.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: String,
    #[command(flatten)]
    data: DataArg,
    /// A browser origin allowed to call (scheme://host[:port]); repeatable; `*` allows any.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// The dashboard's directory, served at `/` (relative to the working directory).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_WWW)]
    www: PathBuf,
    /// The built npm package's directory, served at `/pkg/` (relative to the working directory).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_PKG)]
    pkg: PathBuf,
    /// Stop, as on SIGTERM, once the process PID is no longer this one's parent (npm start passes
    /// its shell: npm forwards SIGTERM to that shell, which dies without passing it on).
    #[arg(long, value_name = "PID")]
    stop_with_parent: Option<u32>,
    /// Run as a gateway: forward every call to this gRPC server (https://host[:port] over TLS,
    /// http://host[:port] over cleartext HTTP/2), e.g. https://api.modal.com. A gateway keeps no
    /// store, so --data cannot be given with it.
    #[arg(long, value_name = "URL", conflicts_with_all = ["data", "key_file"])]
    upstream: Option<String>,
    /// Refuse a client address (RESOURCE_EXHAUSTED, with a retry policy) once this many of its
    /// calls failed to authenticate within the window; 0 turns the limit off.
    #[arg(long, value_name = "N", default_value_t = AuthLimit::default().max_failures)]
    max_auth_failures: u32,
    /// The window of --max-auth-failures, in seconds from an address's first failure.
    #[arg(long, value_name = "SECS", default_value_t = AuthLimit::default().window.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    auth_failure_window: u64,
    /// Believe X-Forwarded-For from this proxy (an address, or ADDR/PREFIX for a network); repeatable.
    /// None by default, loopback included: list a gateway in front of this server here.
    #[arg(long = "trusted-proxy", value_name = "ADDR")]
    trusted_proxy: Vec<String>,
    /// Most connections open at once (kept under the open-file limit too).
    #[arg(long, value_name = "N", default_value_t = ConnLimits::default().max_connections,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections: usize,
    /// Most connections open at once from one client address (IPv6: one /64).
    #[arg(long, value_name = "N", default_value_t = ConnLimits::default().max_connections_per_address,
          value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    max_connections_per_address: usize,
    /// Seconds a client has to send a request's headers (the first from when it connects).
    #[arg(long, value_name = "SECS", default_value_t = ConnLimits::default().header_read_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout: u64,
    /// Seconds a connection may stay open with no call in progress.
    #[arg(long, value_name = "SECS", default_value_t = ConnLimits::default().idle_timeout.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    idle_timeout: u64,
    /// Most concurrent HTTP/2 streams (calls) on one connection.
    #[arg(long, value_name = "N", default_value_t = ConnLimits::default().max_streams_per_connection,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_streams_per_connection: u32,
    /// Most bytes of request bodies held at once by all calls together; a call past it is
    /// RESOURCE_EXHAUSTED (with a retry policy).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BUFFERED_BODY_BYTES,
          value_parser = clap::value_parser!(u64).range(MIN_BODY_BUDGET..).map(|n| usize::try_from(n).unwrap_or(usize::MAX)))]
    max_buffered_body_bytes: usize,
    /// Most bytes of keys and (sealed) values the secrets of one workspace may hold, all its
    /// environments together; a write past it is RESOURCE_EXHAUSTED.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_WORKSPACE_QUOTA_BYTES,
          conflicts_with = "upstream")]
    workspace_quota_bytes: u64,
    /// Gateway: forward every ModalClient method (apps, functions, volumes, …) with the caller's
    /// token, not only the secrets methods. See server/README.md for the risk.
    #[arg(long, requires = "upstream")]
    forward_all_methods: bool,
    /// Gateway: also trust the CA certificates in this PEM file (one or more; repeatable) for an
    /// https:// upstream, beside the Mozilla roots built in. SSL_CERT_FILE, when set, is read
    /// the same way. See server/README.md for the risk.
    #[arg(long = "upstream-ca", value_name = "FILE", requires = "upstream")]
    upstream_ca: Vec<PathBuf>,
}

/// The smallest --max-buffered-body-bytes: one largest request must fit.
const MIN_BODY_BUDGET: u64 = (MAX_REQUEST_BYTES + 5) as u64;

#[derive(Args)]
struct DataArg {
    /// The store's directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA)]
    data: PathBuf,
    /// The key file that seals the store's values (made on first start if missing, mode 0600);
    /// default: store.key in the store's directory. Keep it elsewhere to keep it out of copies of
    /// that directory.
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
}

impl DataArg {
    fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data.join(KEY_FILE))
    }

    fn open(&self) -> Result<Store, String> {
        Store::open_with_key_file(&self.data, &self.key_file()).map_err(|e| e.to_string())
    }
}

#[derive(Args)]
struct WorkspaceArg {
    /// The workspace (created if it does not exist).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_WORKSPACE)]
    workspace: String,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token and print {"token_id","token_secret","workspace"} as one JSON line.
    New {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Re-seal every value under a new key, in one transaction, and replace the key file with it.
    /// Safe while a server runs on the store (it reads the new key at its next write). Prints
    /// {"resealed": N, "key_file": PATH}.
    Rotate {
        #[command(flatten)]
        data: DataArg,
    },
}

#[derive(Subcommand)]
enum EnvCommand {
    /// Add an environment to a workspace (every workspace has `main`).
    New {
        name: String,
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        workspace: WorkspaceArg,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => match Cli::parse_from(["modal-secrets-server", "serve"]).command {
            Some(Command::Serve(args)) => serve(args),
            _ => Err("cannot make the default serve arguments".to_owned()),
        },
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Token(TokenCommand::New { data, workspace })) => {
            token_new(&data, &workspace.workspace)
        }
        Some(Command::Env(EnvCommand::New {
            name,
            data,
            workspace,
        })) => env_new(&data, &workspace.workspace, &name),
        Some(Command::Key(KeyCommand::Rotate { data })) => key_rotate(&data),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("modal-secrets-server: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check_workspace(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("--workspace must not be empty".to_owned());
    }
    validate::environment_name(name).map_err(|e| {
        format!(
            "--workspace: {}",
            e.to_string().replace("environment", "workspace")
        )
    })
}

fn token_new(data: &DataArg, workspace: &str) -> Result<(), String> {
    check_workspace(workspace)?;
    let store = data.open()?;
    let token = store.create_token(workspace).map_err(|e| e.to_string())?;
    let line = serde_json::json!({
        "token_id": token.token_id,
        "token_secret": token.token_secret.expose(),
        "workspace": token.workspace,
    });
    println!("{line}");
    Ok(())
}

fn env_new(data: &DataArg, workspace: &str, name: &str) -> Result<(), String> {
    check_workspace(workspace)?;
    if name.is_empty() {
        return Err("the environment name must not be empty".to_owned());
    }
    validate::environment_name(name).map_err(|e| e.to_string())?;
    let store = data.open()?;
    store
        .create_environment(workspace, name)
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({ "workspace": workspace, "environment": name })
    );
    Ok(())
}

fn key_rotate(data: &DataArg) -> Result<(), String> {
    let store = data.open()?;
    let resealed = store.rotate_key().map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "resealed": resealed,
            "key_file": store.key_path().display().to_string(),
        })
    );
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let (config_www, config_pkg) = (args.www.clone(), args.pkg.clone());
        let key_file = args.data.key_file();
        let upstream_ca = upstream_ca_files(&args);
        let mode = match args.upstream {
            Some(upstream) => Mode::Gateway { upstream },
            None => Mode::Local {
                data_dir: args.data.data,
            },
        };
        let config = Config {
            listen: args.listen,
            mode,
            allow_origins: args.allow_origin,
            www_dir: args.www,
            pkg_dir: args.pkg,
            key_file: Some(key_file),
            auth_limit: AuthLimit {
                max_failures: args.max_auth_failures,
                window: Duration::from_secs(args.auth_failure_window),
            },
            idempotency: IdempotencyLimits::default(),
            trusted_proxies: args.trusted_proxy,
            connections: ConnLimits {
                max_connections: args.max_connections,
                max_connections_per_address: args.max_connections_per_address,
                header_read_timeout: Duration::from_secs(args.header_read_timeout),
                idle_timeout: Duration::from_secs(args.idle_timeout),
                max_streams_per_connection: args.max_streams_per_connection,
            },
            max_buffered_body_bytes: args.max_buffered_body_bytes,
            workspace_quota_bytes: args.workspace_quota_bytes,
            forward_all_methods: args.forward_all_methods,
            upstream_ca: upstream_ca.clone(),
        };
        let running = start(config).await.map_err(|e| e.to_string())?;
        let backend = match (running.store(), running.upstream()) {
            (Some(store), _) => format!(
                "store {}, key file {}",
                store.path().display(),
                store.key_path().display()
            ),
            (None, Some(upstream)) => format!(
                "gateway to {upstream} (no store){}",
                if upstream.starts_with("https://") {
                    upstream_ca
                        .iter()
                        .map(|f| {
                            format!(
                                ", also trusting the CAs in {} ({})",
                                f.path.display(),
                                f.named_by
                            )
                        })
                        .collect::<String>()
                } else {
                    String::new()
                }
            ),
            (None, None) => String::new(),
        };
        log::info(&format!(
            "listening on {} (gRPC and gRPC-web), {backend}",
            running.url(),
        ));
        if let Some(store) = running.store()
            && sealing::is_exposed(store.key_path())
        {
            log::error(&format!(
                "the key file {} can be read or written by others than its owner; chmod 600 it",
                store.key_path().display()
            ));
        }
        for (what, dir) in [("dashboard", &config_www), ("package", &config_pkg)] {
            match std::path::absolute(dir) {
                Ok(path) if path.is_dir() => {
                    log::info(&format!("{what} files from {}", path.display()))
                }
                _ => log::info(&format!(
                    "no {what} files: {} is not a directory (its pages answer 404)",
                    dir.display()
                )),
            }
        }
        let why = tokio::select! {
            why = shutdown_signal() => why,
            why = parent_exit(args.stop_with_parent) => why,
        };
        log::info(&format!("shutting down ({why})"));
        running.shutdown(SHUTDOWN_GRACE).await?;
        log::info("stopped");
        Ok(())
    })
}

/// The gateway's extra CA files: each `--upstream-ca`, then `SSL_CERT_FILE` if set (not empty).
/// None for a local server.
fn upstream_ca_files(args: &ServeArgs) -> Vec<CaFile> {
    if args.upstream.is_none() {
        return Vec::new();
    }
    let mut files: Vec<CaFile> = args
        .upstream_ca
        .iter()
        .map(|path| CaFile {
            path: path.clone(),
            named_by: UPSTREAM_CA_FLAG,
        })
        .collect();
    if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        files.push(CaFile {
            path: PathBuf::from(path),
            named_by: "SSL_CERT_FILE",
        });
    }
    files
}

/// Resolves once process `pid` is no longer the parent (it exited); never without a `pid`.
async fn parent_exit(pid: Option<u32>) -> &'static str {
    #[cfg(unix)]
    if let Some(pid) = pid {
        let mut ticks = tokio::time::interval(Duration::from_millis(250));
        loop {
            ticks.tick().await;
            if std::os::unix::process::parent_id() != pid {
                return "the parent process exited";
            }
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
    std::future::pending().await
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "interrupt",
        () = term => "SIGTERM",
    }
}
