//! The `modal-secrets-server` command: `serve` (the default), `token new`, `env new`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use modal_secrets_core::validate;
use modal_secrets_server::store::{DEFAULT_WORKSPACE, Store};
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
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    upstream: Option<String>,
}

#[derive(Args)]
struct DataArg {
    /// The store's directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA)]
    data: PathBuf,
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
        None => serve(ServeArgs {
            listen: DEFAULT_LISTEN.to_owned(),
            data: DataArg {
                data: DEFAULT_DATA.into(),
            },
            allow_origin: Vec::new(),
            www: DEFAULT_WWW.into(),
            pkg: DEFAULT_PKG.into(),
            stop_with_parent: None,
            upstream: None,
        }),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Token(TokenCommand::New { data, workspace })) => {
            token_new(&data.data, &workspace.workspace)
        }
        Some(Command::Env(EnvCommand::New {
            name,
            data,
            workspace,
        })) => env_new(&data.data, &workspace.workspace, &name),
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

fn token_new(data: &Path, workspace: &str) -> Result<(), String> {
    check_workspace(workspace)?;
    let store = Store::open(data).map_err(|e| e.to_string())?;
    let token = store.create_token(workspace).map_err(|e| e.to_string())?;
    let line = serde_json::json!({
        "token_id": token.token_id,
        "token_secret": token.token_secret.expose(),
        "workspace": token.workspace,
    });
    println!("{line}");
    Ok(())
}

fn env_new(data: &Path, workspace: &str, name: &str) -> Result<(), String> {
    check_workspace(workspace)?;
    if name.is_empty() {
        return Err("the environment name must not be empty".to_owned());
    }
    validate::environment_name(name).map_err(|e| e.to_string())?;
    let store = Store::open(data).map_err(|e| e.to_string())?;
    store
        .create_environment(workspace, name)
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({ "workspace": workspace, "environment": name })
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
        };
        let running = start(config).await.map_err(|e| e.to_string())?;
        let backend = match (running.store(), running.upstream()) {
            (Some(store), _) => format!("store {}", store.path().display()),
            (None, Some(upstream)) => format!("gateway to {upstream} (no store)"),
            (None, None) => String::new(),
        };
        log::info(&format!(
            "listening on {} (gRPC and gRPC-web), {backend}",
            running.url(),
        ));
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
