//! Where a client's settings come from, resolved as Modal's Python client resolves them
//! (`modal/config.py`, 1.6.4): explicit options, then `MODAL_*` variables, then the active profile of
//! `~/.modal.toml`, then defaults. No I/O here: the caller reads the environment and the file.

use crate::vars::Vars;
use std::time::Duration;

use crate::error::{Code, Error};
use crate::redact::Redacted;

/// Where the client connects when nothing else is configured. (Modal 1.6.4's own default is the
/// list `https://api.modal.com,https://api.modal2.com`; WIRE.md fixes the primary alone.)
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";

/// Options given explicitly by the caller (JS `new Client({...})`): highest precedence.
#[derive(Clone, Debug, Default)]
pub struct ConfigOptions {
    pub server_url: Option<String>,
    pub token_id: Option<String>,
    pub token_secret: Option<Redacted<String>>,
    pub environment: Option<String>,
    /// Which profile of the config file to read, as `MODAL_PROFILE` (or `modal --profile`) does.
    pub profile: Option<String>,
    pub max_throttle_wait: Option<Duration>,
}

/// The settings a client runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// An `http://` or `https://` URL without a trailing slash.
    pub server_url: String,
    /// `None` when unset or empty (Modal treats an empty token as a missing one).
    pub token_id: Option<String>,
    pub token_secret: Option<Redacted<String>>,
    /// `""` means the workspace's default environment.
    pub environment: String,
    /// The profile that was read (whether or not the file has it).
    pub profile: String,
    /// The longest total wait for throttled requests: `None` = no cap, `Some(0)` = never wait for
    /// them (Modal's `max_throttle_wait`).
    pub max_throttle_wait: Option<Duration>,
    /// The profile was named (option or `MODAL_PROFILE`) but the file has no such table. Modal
    /// reports this only once it finds no token; see [`Config::credentials`].
    pub profile_missing: bool,
}

impl Config {
    /// The token pair, or the `AuthError` Modal's `Client.from_env` raises when either half is
    /// missing (an UNAUTHENTICATED status: the core has no other error of kind Auth).
    pub fn credentials(&self) -> Result<(&str, &Redacted<String>), Error> {
        if let (Some(id), Some(secret)) = (&self.token_id, &self.token_secret) {
            return Ok((id, secret));
        }
        let message = if self.profile_missing {
            format!(
                "Modal profile `{}` was not found in the Modal config file; run `modal profile list` \
                 to see the profiles there, or `modal token new --profile {}` to add it",
                self.profile, self.profile
            )
        } else {
            "token missing: pass tokenId and tokenSecret, set MODAL_TOKEN_ID and \
             MODAL_TOKEN_SECRET, or run `modal token new`"
                .to_owned()
        };
        Err(Error::Status {
            code: Code::Unauthenticated,
            message,
            retry_after: None,
        })
    }
}

/// The config file to read: `MODAL_CONFIG_PATH` if set and non-empty (taken as is, no `~`
/// expansion, as Modal does), else `<home>/.modal.toml`. `None` when there is no home directory, or
/// inside a Modal container (`MODAL_IS_REMOTE=1`), where Modal never reads the file.
pub fn config_path(env: &Vars, home: Option<&str>) -> Option<String> {
    if env.get("MODAL_IS_REMOTE").is_some_and(|v| v == "1") {
        return None;
    }
    if let Some(path) = env.get("MODAL_CONFIG_PATH").filter(|p| !p.is_empty()) {
        return Some(path.to_owned());
    }
    // Python's expanduser drops the home's trailing separators (a home of "/" gives "/.modal.toml").
    // An empty home is taken as no home at all, where Python would also give "/.modal.toml".
    let home = home.filter(|h| !h.is_empty())?;
    Some(format!(
        "{}/.modal.toml",
        home.trim_end_matches(['/', '\\'])
    ))
}

/// Resolves the settings. `env` holds the `MODAL_*` variables (`process.env` or a worker's env
/// object); `toml_text` is the config file's content if the caller could read one.
///
/// As in Modal, a broken file, more than one active profile, or several profiles with none active
/// (while the profile in use is `default`) are errors even when every setting is given explicitly.
/// A value is checked only where it is used: a bad value in another profile, or one overridden by
/// a variable or option, is ignored. No message quotes a value: only key, variable and profile names.
pub fn resolve(
    options: &ConfigOptions,
    env: &Vars,
    toml_text: Option<&str>,
) -> Result<Config, Error> {
    let file = match toml_text {
        #[cfg(feature = "config-file")]
        Some(text) => toml::parse(text).map_err(|e| {
            // Only the position and a fixed description: a parser's own message could quote the
            // offending line, and that line could be `token_secret = "as-..."`.
            Error::Config(format!(
                "TOML syntax error at line {}, column {}: {}",
                e.line, e.column, e.what
            ))
        })?,
        // Without the `config-file` feature no text is ever read (the host has no files).
        _ => toml::Table::default(),
    };

    let mut profiles = Vec::with_capacity(file.items.len());
    for (name, value) in &file.items {
        match value {
            toml::Val::Table(table) => profiles.push((name.as_str(), table)),
            _ => {
                return Err(Error::Config(
                    "TOML file must contain table sections for each profile".into(),
                ));
            }
        }
    }

    // Modal selects the profile whose `active` is exactly `true`, and counts active profiles on
    // every client creation. It would crash or misread a non-boolean `active`; we reject it.
    let mut active = None;
    let mut active_count = 0;
    for &(name, table) in &profiles {
        match table.get("active") {
            None | Some(toml::Val::Bool(false)) => {}
            Some(toml::Val::Bool(true)) => {
                active_count += 1;
                active.get_or_insert(name);
            }
            Some(_) => {
                return Err(Error::Config(format!(
                    "active in profile `{name}` must be true or false"
                )));
            }
        }
    }
    if active_count > 1 {
        // Modal raises this whatever MODAL_PROFILE says.
        return Err(Error::Config(
            "more than one Modal profile is active; fix it with `modal profile activate` or by \
             editing the Modal config file"
                .into(),
        ));
    }

    // An empty MODAL_PROFILE counts as unset (Modal: `os.environ.get("MODAL_PROFILE") or ...`).
    let named =
        non_empty(options.profile.as_deref()).or_else(|| non_empty(env.get("MODAL_PROFILE")));
    let profile = named.or(active).unwrap_or("default");
    if profiles.len() > 1 && active_count == 0 && profile == "default" {
        return Err(Error::Config(
            "no Modal profile is active; fix it with `modal profile activate` or by editing the \
             Modal config file"
                .into(),
        ));
    }
    // A profile the file does not have reads as empty settings, as in Modal.
    let table = profiles
        .iter()
        .find(|(name, _)| *name == profile)
        .map(|&(_, table)| table);
    let scope = Scope {
        env,
        profile,
        table,
    };

    let server_url = match scope.pick(&SERVER_URL, options.server_url.as_deref())? {
        Some((text, origin)) => server_url(text, origin)?,
        None => DEFAULT_SERVER_URL.to_owned(),
    };
    let token_id = match scope.pick(&TOKEN_ID, options.token_id.as_deref())? {
        Some((text, origin)) => token(text, origin)?,
        None => None,
    };
    let secret_option = options.token_secret.as_ref().map(|s| s.expose().as_str());
    let token_secret = match scope.pick(&TOKEN_SECRET, secret_option)? {
        Some((text, origin)) => token(text, origin)?.map(Redacted::new),
        None => None,
    };
    let environment = scope
        .pick(&ENVIRONMENT, options.environment.as_deref())?
        .map_or_else(String::new, |(text, _)| text.to_owned());
    let max_throttle_wait = match options.max_throttle_wait {
        Some(wait) => Some(wait),
        None => scope.max_throttle_wait()?,
    };

    Ok(Config {
        server_url,
        token_id,
        token_secret,
        environment,
        profile: profile.to_owned(),
        max_throttle_wait,
        profile_missing: named.is_some() && table.is_none(),
    })
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// One setting under its three names.
struct Key {
    toml: &'static str,
    env: &'static str,
    /// The name of the JS `Client` option.
    option: &'static str,
}

const SERVER_URL: Key = Key {
    toml: "server_url",
    env: "MODAL_SERVER_URL",
    option: "serverUrl",
};
const TOKEN_ID: Key = Key {
    toml: "token_id",
    env: "MODAL_TOKEN_ID",
    option: "tokenId",
};
const TOKEN_SECRET: Key = Key {
    toml: "token_secret",
    env: "MODAL_TOKEN_SECRET",
    option: "tokenSecret",
};
const ENVIRONMENT: Key = Key {
    toml: "environment",
    env: "MODAL_ENVIRONMENT",
    option: "environment",
};
const MAX_THROTTLE_WAIT: Key = Key {
    toml: "max_throttle_wait",
    env: "MODAL_MAX_THROTTLE_WAIT",
    option: "maxThrottleWait",
};

/// Where a value came from, for messages that name it without quoting it.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Option(&'static str),
    Env(&'static str),
    Profile(&'static str, &'a str),
}

impl Origin<'_> {
    /// A bad explicit option is the caller's argument (InvalidInput); the rest is config.
    fn error(self, problem: &str) -> Error {
        match self {
            Origin::Option(name) => Error::InvalidInput(format!("the {name} option {problem}")),
            Origin::Env(var) => Error::Config(format!("{var} {problem}")),
            Origin::Profile(key, profile) => {
                Error::Config(format!("{key} in profile `{profile}` {problem}"))
            }
        }
    }
}

struct Scope<'a> {
    env: &'a Vars,
    profile: &'a str,
    table: Option<&'a toml::Table>,
}

impl<'a> Scope<'a> {
    /// The profile's value for `key`, if the profile has one.
    fn lookup(&self, key: &Key) -> Option<(&'a toml::Val, Origin<'a>)> {
        let origin = Origin::Profile(key.toml, self.profile);
        self.table?.get(key.toml).map(|value| (value, origin))
    }

    /// The string that wins for `key`: the option, else the variable if it is set (Modal:
    /// `if env_var_key in os.environ`, so even an empty one wins), else the profile's, which must
    /// be a string (Modal would pass a number on and fail later; we name the key instead).
    fn pick<'o>(
        &self,
        key: &Key,
        option: Option<&'o str>,
    ) -> Result<Option<(&'o str, Origin<'a>)>, Error>
    where
        'a: 'o,
    {
        if let Some(text) = option {
            return Ok(Some((text, Origin::Option(key.option))));
        }
        if let Some(text) = self.env.get(key.env) {
            return Ok(Some((text, Origin::Env(key.env))));
        }
        match self.lookup(key) {
            None => Ok(None),
            Some((toml::Val::Str(text), origin)) => Ok(Some((text, origin))),
            Some((value, origin)) => {
                Err(origin.error(&format!("must be a string, not {}", value.type_name())))
            }
        }
    }

    /// Modal's transform is `int(x) if x else None`: "" gives no cap, "0" disables throttle waits.
    /// So does the TOML string "0", but the TOML integer 0 is falsy and gives no cap: mirrored.
    fn max_throttle_wait(&self) -> Result<Option<Duration>, Error> {
        const RULE: &str = "must be a whole number of seconds, 0 or more";
        let key = &MAX_THROTTLE_WAIT;
        if let Some(text) = self.env.get(key.env) {
            return seconds(text).ok_or_else(|| Origin::Env(key.env).error(RULE));
        }
        match self.lookup(key) {
            None => Ok(None),
            Some((toml::Val::Str(text), origin)) => seconds(text).ok_or_else(|| origin.error(RULE)),
            Some((toml::Val::Int(0), _)) => Ok(None),
            Some((toml::Val::Int(n), origin)) => u64::try_from(*n)
                .map(|n| Some(Duration::from_secs(n)))
                .map_err(|_| origin.error(RULE)),
            // Python's int() would also truncate a float and read `true` as 1; neither is a
            // sensible number of seconds, so they are errors here.
            Some((_, origin)) => Err(origin.error(RULE)),
        }
    }
}

/// Python's `int(x) if x else None` for a string, limited to what makes sense as seconds: `None`
/// when the text is no such number. Like `int()`, it allows surrounding whitespace, a sign and
/// single underscores between digits; unlike it, negative numbers and non-ASCII digits fail.
fn seconds(text: &str) -> Option<Option<Duration>> {
    if text.is_empty() {
        return Some(None);
    }
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = toml::integer(digits.as_bytes(), 10, false)?;
    if negative && n != 0 {
        return None;
    }
    Some(Some(Duration::from_secs(u64::try_from(n).ok()?)))
}

/// A token goes into an HTTP header: only visible ASCII is safe there, and `fetch` would quote a
/// bad value in its own error. Empty means unset, as Modal's truthiness test does.
fn token(text: &str, origin: Origin<'_>) -> Result<Option<String>, Error> {
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(origin
            .error("may contain only visible ASCII characters (it is sent in an HTTP header)"));
    }
    Ok(Some(text.to_owned()))
}

/// Modal 1.6.4 accepts a comma-separated list of fallback URLs (each trimmed) and races them,
/// preferring the first. Each is checked; the first is the one used (no failover over `fetch`).
fn server_url(text: &str, origin: Origin<'_>) -> Result<String, Error> {
    let mut first = None;
    for part in text.split(',') {
        let url = normalize_url(part.trim()).ok_or_else(|| {
            origin.error(
                "must be an http:// or https:// URL with a host, and optionally a port and a path",
            )
        })?;
        first.get_or_insert(url);
    }
    Ok(first.unwrap_or_default())
}

/// `scheme://host[:port][/path]` with scheme http or https (lowercased), a DNS name, IPv4 or
/// bracketed IPv6 host, a port in 1..=65535, no user info, query or fragment; trailing slashes
/// removed. `None` otherwise.
fn normalize_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = if scheme.eq_ignore_ascii_case("https") {
        "https"
    } else if scheme.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return None;
    };
    if !rest
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\'))
    {
        return None;
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            let ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            match after {
                "" => (ok, None),
                _ => (ok, Some(after.strip_prefix(':')?)),
            }
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let ok = host
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
            (ok, port)
        }
    };
    if !host_ok {
        return None;
    }
    if let Some(port) = port {
        let n = toml::integer(port.as_bytes(), 10, false)?;
        if port.len() > 5 || port.contains('_') || !(1..=65535).contains(&n) {
            return None;
        }
    }
    // Every trailing slash goes, so that appending `/modal.client.ModalClient/...` never makes `//`.
    let path = path.trim_end_matches('/');
    Some(format!("{scheme}://{authority}{path}"))
}

// Without `config-file`, only its types and scalar readers are used (not its parser).
#[cfg_attr(not(feature = "config-file"), allow(dead_code))]
mod toml;

#[cfg(test)]
mod tests;
