//! `ClientHandle`: the Rust half of the JS `Client` (src/js/api.js), holding the core client with the
//! token, plus the `fetch` and `onWarning` functions it was given. The token secret stays in wasm
//! memory: no JS property ever holds it.

use modal_secrets_core::vars::Vars;
use std::rc::Rc;

use modal_secrets_core::Redacted;
use modal_secrets_core::client::{CallOptions, Client, Tuning, choose_protocol};
use modal_secrets_core::config::{self, ConfigOptions};
use modal_secrets_core::grpc_web::Protocol;
use wasm_bindgen::prelude::*;

use crate::abi::to_js;
use crate::args::{Opts, env_map};

/// Options of `new Client()`; `Client.fromEnv()` also takes the last two, `env` and `profile`.
const OPTIONS: &[&str] = &[
    "serverUrl",
    "tokenId",
    "tokenSecret",
    "environment",
    "fetch",
    "transport",
    "timeoutMs",
    "maxRetries",
    "maxThrottleWaitMs",
    "onWarning",
    "env",
    "profile",
];
const CLIENT_OPTIONS: &[&str] = OPTIONS.split_at(OPTIONS.len() - 2).0;
const FROM_ENV_OPTIONS: &[&str] = OPTIONS;

/// What every operation of the client uses: the core client, and the `fetch` and `onWarning`
/// functions it was given (`undefined`: the global `fetch`, `console.warn`).
pub struct Inner {
    pub client: Client,
    pub fetch: JsValue,
    pub on_warning: JsValue,
}

#[wasm_bindgen(skip_typescript)]
pub struct ClientHandle {
    /// `None` only in [`ClientHandle::none`].
    pub(crate) inner: Option<Rc<Inner>>,
}

#[wasm_bindgen]
impl ClientHandle {
    /// `new Client(options)` (`from_env` false: the options alone) or `Client.fromEnv(options)`
    /// (`from_env` true: options over `env` — `options.env`, else `default_env` — over the
    /// config file's text `toml`, if the host could read one). `http2`: whether the runtime's entry
    /// brought the node:http2 transport.
    pub fn create(
        options: JsValue,
        from_env: bool,
        default_env: JsValue,
        toml: Option<String>,
        http2: bool,
    ) -> Result<ClientHandle, JsValue> {
        let (what, allowed) = if from_env {
            ("Client.fromEnv", FROM_ENV_OPTIONS)
        } else {
            ("new Client", CLIENT_OPTIONS)
        };
        let opts = Opts::new(&options, what, allowed)?;
        let config_options = ConfigOptions {
            server_url: opts.string("serverUrl")?,
            token_id: opts.string("tokenId")?,
            token_secret: opts.string("tokenSecret")?.map(Redacted::new),
            environment: opts.string("environment")?,
            profile: if from_env {
                opts.string("profile")?
            } else {
                None
            },
            max_throttle_wait: opts.millis("maxThrottleWaitMs")?,
        };
        let env = if !from_env {
            Vars::new()
        } else if let Some(env) = opts.env("env")? {
            env
        } else if default_env.is_undefined() || default_env.is_null() {
            Vars::new()
        } else {
            env_map(&default_env, "the environment")?
        };
        let toml = if from_env { toml } else { None };
        let config =
            config::resolve(&config_options, &env, toml.as_deref()).map_err(|e| to_js(&e))?;
        let fetch = opts.function("fetch")?;
        let transport = opts.string("transport")?;
        let tuning = Tuning {
            timeout: opts.millis("timeoutMs")?,
            max_retries: opts
                .count("maxRetries")?
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            protocol: choose_protocol(transport.as_deref(), !fetch.is_undefined(), http2)
                .map_err(|e| to_js(&e))?,
        };
        let client = Client::new(&config, tuning).map_err(|e| to_js(&e))?;
        Ok(ClientHandle {
            inner: Some(Rc::new(Inner {
                client,
                fetch,
                on_warning: opts.function("onWarning")?,
            })),
        })
    }

    /// The placeholder client, for a call whose client could not be made (no configuration, a bad
    /// `options.client`). A call reports the first thing wrong with it, and its arguments come
    /// before its configuration: a typo in a name should not hide behind "no token". So api.js
    /// (`resolveClient`) hands such a call this placeholder: the operation functions check every
    /// argument as usual and then, finding no client, return `undefined` instead of an operation;
    /// api.js then throws the client's error. This is the one explanation of it; others point here.
    pub fn none() -> ClientHandle {
        ClientHandle { inner: None }
    }

    fn client(&self) -> Option<&Client> {
        self.inner.as_deref().map(|inner| &inner.client)
    }

    #[wasm_bindgen(getter, js_name = serverUrl)]
    pub fn server_url(&self) -> String {
        self.client()
            .map_or_else(String::new, |c| c.server_url().to_owned())
    }

    #[wasm_bindgen(getter, js_name = tokenId)]
    pub fn token_id(&self) -> String {
        self.client()
            .map_or_else(String::new, |c| c.token_id().to_owned())
    }

    #[wasm_bindgen(getter)]
    pub fn environment(&self) -> String {
        self.client()
            .map_or_else(String::new, |c| c.environment().to_owned())
    }

    #[wasm_bindgen(getter, js_name = timeoutMs)]
    pub fn timeout_ms(&self) -> Option<f64> {
        self.client()?.timeout().map(|t| t.as_secs_f64() * 1000.0)
    }

    /// "http2" (plain gRPC over node:http2) or "fetch" (gRPC-web).
    #[wasm_bindgen(getter)]
    pub fn transport(&self) -> String {
        match self.client().map(Client::protocol) {
            Some(Protocol::Grpc) => "http2",
            _ => "fetch",
        }
        .to_owned()
    }

    #[wasm_bindgen(getter, js_name = maxRetries)]
    pub fn max_retries(&self) -> u32 {
        self.client().map_or(0, |c| c.retry_policy().max_retries)
    }
}

/// The per-call options every operation takes beside its own: `timeoutMs`, and `signal`, which is
/// checked here and used by api.js (it aborts the fetch or the wait in progress).
pub fn call_options(opts: &Opts<'_>) -> Result<CallOptions, JsValue> {
    let timeout = opts.millis("timeoutMs")?;
    if let Some(t) = timeout {
        modal_secrets_core::client::check_timeout(t, "timeoutMs").map_err(|e| to_js(&e))?;
    }
    opts.signal("signal")?;
    Ok(CallOptions { timeout })
}

/// The config file's path (`MODAL_CONFIG_PATH`, else `~/.modal.toml`), for the Node entry.
#[cfg(feature = "files")]
#[wasm_bindgen(js_name = configPath, skip_typescript)]
pub fn config_path(env: JsValue, home: Option<String>) -> Result<Option<String>, JsValue> {
    let env = if env.is_undefined() || env.is_null() {
        Vars::new()
    } else {
        env_map(&env, "Client.fromEnv: options.env")?
    };
    Ok(config::config_path(&env, home.as_deref()))
}
