//! Config resolution as Modal's `modal/config.py` does it: precedence, profiles, bad files and
//! values, and that no message ever carries a value from the file or a token secret.

use modal_secrets_core::vars::Vars;
use std::time::Duration;

use modal_secrets_core::config::{Config, ConfigOptions, DEFAULT_SERVER_URL, config_path, resolve};
use modal_secrets_core::{Error, ErrorKind, Redacted};
use proptest::prelude::*;

fn env(pairs: &[(&str, &str)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ok(options: &ConfigOptions, env: &Vars, toml: Option<&str>) -> Config {
    resolve(options, env, toml).unwrap_or_else(|e| panic!("{e}"))
}

fn err(options: &ConfigOptions, env: &Vars, toml: Option<&str>) -> String {
    match resolve(options, env, toml) {
        Ok(c) => panic!("resolved to {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn secret(c: &Config) -> Option<&str> {
    c.token_secret.as_ref().map(|s| s.expose().as_str())
}

const FILE: &str = r#"
[default]
server_url = "http://file.example:1"
token_id = "ak-file"
token_secret = "as-file"
environment = "file-env"
max_throttle_wait = 30
active = true
"#;

/// Every key through every layer: the highest layer given wins, down to the default.
#[test]
fn precedence_option_then_env_then_file_then_default() {
    let options = ConfigOptions {
        server_url: Some("https://option.example".into()),
        token_id: Some("ak-option".into()),
        token_secret: Some(Redacted::new("as-option".into())),
        environment: Some("option-env".into()),
        profile: None,
        max_throttle_wait: Some(Duration::from_secs(5)),
    };
    let full_env = env(&[
        ("MODAL_SERVER_URL", "http://env.example:2/"),
        ("MODAL_TOKEN_ID", "ak-env"),
        ("MODAL_TOKEN_SECRET", "as-env"),
        ("MODAL_ENVIRONMENT", "env-env"),
        ("MODAL_MAX_THROTTLE_WAIT", "7"),
    ]);
    let none = ConfigOptions::default();
    let no_env = Vars::new();

    let c = ok(&options, &full_env, Some(FILE));
    assert_eq!(c.server_url, "https://option.example");
    assert_eq!(c.token_id.as_deref(), Some("ak-option"));
    assert_eq!(secret(&c), Some("as-option"));
    assert_eq!(c.environment, "option-env");
    assert_eq!(c.max_throttle_wait, Some(Duration::from_secs(5)));

    let c = ok(&none, &full_env, Some(FILE));
    assert_eq!(c.server_url, "http://env.example:2");
    assert_eq!(c.token_id.as_deref(), Some("ak-env"));
    assert_eq!(secret(&c), Some("as-env"));
    assert_eq!(c.environment, "env-env");
    assert_eq!(c.max_throttle_wait, Some(Duration::from_secs(7)));

    let c = ok(&none, &no_env, Some(FILE));
    assert_eq!(c.server_url, "http://file.example:1");
    assert_eq!(c.token_id.as_deref(), Some("ak-file"));
    assert_eq!(secret(&c), Some("as-file"));
    assert_eq!(c.environment, "file-env");
    assert_eq!(c.max_throttle_wait, Some(Duration::from_secs(30)));
    assert_eq!(c.profile, "default");

    for toml in [None, Some(""), Some("[default]\n")] {
        let c = ok(&none, &no_env, toml);
        assert_eq!(c.server_url, DEFAULT_SERVER_URL);
        assert_eq!(c.token_id, None);
        assert_eq!(c.token_secret, None);
        assert_eq!(c.environment, "");
        assert_eq!(c.max_throttle_wait, None);
        assert_eq!(c.profile, "default");
        assert!(!c.profile_missing);
    }
}

/// Each key on its own: one layer set, the others not, so no key leans on another's layer.
#[test]
fn precedence_key_by_key() {
    let keys = [
        (
            "server_url",
            "MODAL_SERVER_URL",
            "\"http://f:1\"",
            "http://e:2",
        ),
        ("token_id", "MODAL_TOKEN_ID", "\"ak-f\"", "ak-e"),
        ("token_secret", "MODAL_TOKEN_SECRET", "\"as-f\"", "as-e"),
        ("environment", "MODAL_ENVIRONMENT", "\"f\"", "e"),
        ("max_throttle_wait", "MODAL_MAX_THROTTLE_WAIT", "11", "22"),
    ];
    let show = |c: &Config, key: &str| -> String {
        match key {
            "server_url" => c.server_url.clone(),
            "token_id" => c.token_id.clone().unwrap_or_default(),
            "token_secret" => secret(c).unwrap_or_default().to_owned(),
            "environment" => c.environment.clone(),
            _ => c
                .max_throttle_wait
                .map_or(String::new(), |d| d.as_secs().to_string()),
        }
    };
    for (key, var, file_value, env_value) in keys {
        let file = format!("[default]\n{key} = {file_value}\n");
        let variables = env(&[(var, env_value)]);
        let none = ConfigOptions::default();
        let from_file = ok(&none, &Vars::new(), Some(&file));
        assert_eq!(show(&from_file, key), file_value.trim_matches('"'), "{key}");
        let from_env = ok(&none, &variables, Some(&file));
        assert_eq!(show(&from_env, key), env_value, "{key}");
        let option = match key {
            "server_url" => ConfigOptions {
                server_url: Some("http://o:3".into()),
                ..none.clone()
            },
            "token_id" => ConfigOptions {
                token_id: Some("ak-o".into()),
                ..none.clone()
            },
            "token_secret" => ConfigOptions {
                token_secret: Some(Redacted::new("as-o".into())),
                ..none.clone()
            },
            "environment" => ConfigOptions {
                environment: Some("o".into()),
                ..none.clone()
            },
            _ => ConfigOptions {
                max_throttle_wait: Some(Duration::from_secs(33)),
                ..none.clone()
            },
        };
        let from_option = ok(&option, &variables, Some(&file));
        assert_ne!(show(&from_option, key), env_value, "{key}");
        assert_ne!(
            show(&from_option, key),
            file_value.trim_matches('"'),
            "{key}"
        );
    }
}

/// Modal: a variable that is set wins even when empty (`if env_var_key in os.environ`).
#[test]
fn empty_variables_still_override_the_file() {
    let variables = env(&[
        ("MODAL_TOKEN_ID", ""),
        ("MODAL_TOKEN_SECRET", ""),
        ("MODAL_ENVIRONMENT", ""),
        ("MODAL_MAX_THROTTLE_WAIT", ""),
    ]);
    let c = ok(&ConfigOptions::default(), &variables, Some(FILE));
    assert_eq!(c.token_id, None);
    assert_eq!(c.token_secret, None);
    assert_eq!(c.environment, "");
    assert_eq!(c.max_throttle_wait, None);
    assert_eq!(c.server_url, "http://file.example:1");

    let e = err(
        &ConfigOptions::default(),
        &env(&[("MODAL_SERVER_URL", "")]),
        Some(FILE),
    );
    assert!(e.contains("MODAL_SERVER_URL"), "{e}");
}

#[test]
fn profile_selection() {
    let two = "[default]\ntoken_id = \"ak-d\"\n[dev]\ntoken_id = \"ak-dev\"\nactive = true\n";
    let none = ConfigOptions::default();
    let id = |c: Config| (c.profile, c.token_id.unwrap_or_default());

    // The active table, unless MODAL_PROFILE or the option names another.
    assert_eq!(
        id(ok(&none, &Vars::new(), Some(two))),
        ("dev".into(), "ak-dev".into())
    );
    let pick_default = env(&[("MODAL_PROFILE", "default")]);
    assert_eq!(
        id(ok(&none, &pick_default, Some(two))),
        ("default".into(), "ak-d".into())
    );
    let option = ConfigOptions {
        profile: Some("dev".into()),
        ..none.clone()
    };
    assert_eq!(
        id(ok(&option, &pick_default, Some(two))),
        ("dev".into(), "ak-dev".into())
    );
    // An empty MODAL_PROFILE or option counts as unset.
    let empty = ConfigOptions {
        profile: Some(String::new()),
        ..none.clone()
    };
    let c = ok(&empty, &env(&[("MODAL_PROFILE", "")]), Some(two));
    assert_eq!(c.profile, "dev");

    // Without an active table: `default`. A lone non-default table is not used.
    let c = ok(&none, &Vars::new(), Some("[work]\ntoken_id = \"ak-w\"\n"));
    assert_eq!((c.profile.as_str(), c.token_id), ("default", None));
    assert!(!c.profile_missing);

    // `active = false` is not active.
    let c = ok(&none, &Vars::new(), Some("[a]\nactive = false\n"));
    assert_eq!(c.profile, "default");
}

#[test]
fn a_named_profile_that_is_missing_reads_as_empty_settings() {
    let variables = env(&[("MODAL_PROFILE", "nope")]);
    let c = ok(&ConfigOptions::default(), &variables, Some(FILE));
    assert_eq!(c.profile, "nope");
    assert!(c.profile_missing);
    assert_eq!(c.token_id, None);
    assert_eq!(c.server_url, DEFAULT_SERVER_URL);
    let e = c.credentials().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.to_string().contains("`nope` was not found"), "{e}");

    // With a token from elsewhere, Modal does not complain about the profile.
    let with_token = env(&[
        ("MODAL_PROFILE", "nope"),
        ("MODAL_TOKEN_ID", "ak-1"),
        ("MODAL_TOKEN_SECRET", "as-1"),
    ]);
    let c = ok(&ConfigOptions::default(), &with_token, None);
    assert!(c.profile_missing);
    let (id, secret) = c.credentials().unwrap();
    assert_eq!((id, secret.expose().as_str()), ("ak-1", "as-1"));
}

#[test]
fn missing_token_is_an_auth_error() {
    let c = ok(
        &ConfigOptions::default(),
        &env(&[("MODAL_TOKEN_ID", "ak-1")]),
        None,
    );
    let e = c.credentials().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.to_string().starts_with("token missing"), "{e}");
}

#[test]
fn two_active_profiles_are_an_error_whatever_modal_profile_says() {
    let two = "[a]\nactive = true\n[b]\nactive = true\n";
    let e = err(&ConfigOptions::default(), &Vars::new(), Some(two));
    assert!(e.contains("more than one Modal profile is active"), "{e}");
    let e = err(
        &ConfigOptions::default(),
        &env(&[("MODAL_PROFILE", "a")]),
        Some(two),
    );
    assert!(e.contains("more than one"), "{e}");
}

#[test]
fn several_profiles_none_active_is_an_error_only_for_default() {
    let two = "[default]\n[other]\n";
    let none = ConfigOptions::default();
    let e = err(&none, &Vars::new(), Some(two));
    assert!(e.contains("no Modal profile is active"), "{e}");
    let e = err(&none, &env(&[("MODAL_PROFILE", "default")]), Some(two));
    assert!(e.contains("no Modal profile is active"), "{e}");
    assert_eq!(
        ok(&none, &env(&[("MODAL_PROFILE", "other")]), Some(two)).profile,
        "other"
    );
    // Even explicit settings do not avoid it: Modal checks on every client creation.
    let explicit = ConfigOptions {
        token_id: Some("ak-1".into()),
        token_secret: Some(Redacted::new("as-1".into())),
        ..none
    };
    assert!(resolve(&explicit, &Vars::new(), Some(two)).is_err());
}

#[test]
fn broken_files() {
    let none = ConfigOptions::default();
    let no_env = Vars::new();
    for (toml, want) in [
        (
            "token_id = \"ak-1\"\n",
            "TOML file must contain table sections for each profile",
        ),
        (
            "[[default]]\n",
            "TOML file must contain table sections for each profile",
        ),
        (
            "[a]\nactive = \"yes\"\n",
            "active in profile `a` must be true or false",
        ),
        (
            "[default]\ntoken_id = 5\n",
            "token_id in profile `default` must be a string, not an integer",
        ),
        (
            "[default]\nserver_url = true\n",
            "server_url in profile `default` must be a string, not a boolean",
        ),
        (
            "[default]\nenvironment = [\"x\"]\n",
            "environment in profile `default` must be a string, not an array",
        ),
        (
            "[default]\ntoken_secret = {}\n",
            "token_secret in profile `default` must be a string, not a table",
        ),
        (
            "[default]\nmax_throttle_wait = 1.5\n",
            "max_throttle_wait in profile `default` must be a whole number",
        ),
        (
            "[default]\nmax_throttle_wait = -3\n",
            "max_throttle_wait in profile `default` must be a whole number",
        ),
        (
            "[default]\nmax_throttle_wait = \"soon\"\n",
            "max_throttle_wait in profile `default` must be a whole number",
        ),
        (
            "[default]\nmax_throttle_wait = true\n",
            "max_throttle_wait in profile `default` must be a whole number",
        ),
        (
            "[default]\nserver_url = \"api.modal.com\"\n",
            "server_url in profile `default` must be an http:// or https:// URL",
        ),
        (
            "[default]\ntoken_id = \"ak 1\"\n",
            "token_id in profile `default` may contain only visible ASCII",
        ),
        ("[default\n", "TOML syntax error at line 1, column 9"),
    ] {
        let e = resolve(&none, &no_env, Some(toml)).unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        assert!(e.to_string().starts_with("invalid Modal config: "), "{e}");
        assert!(e.to_string().contains(want), "{toml:?}: {e}");
    }
}

/// Modal reads a value only where it is used.
#[test]
fn unused_bad_values_are_ignored() {
    let none = ConfigOptions::default();
    let toml = "[default]\nactive = true\ntoken_id = 5\nmax_throttle_wait = \"x\"\nloglevel = 3\n[other]\nserver_url = 1\n";
    let masked = env(&[("MODAL_TOKEN_ID", "ak-1"), ("MODAL_MAX_THROTTLE_WAIT", "2")]);
    let c = ok(&none, &masked, Some(toml));
    assert_eq!(c.token_id.as_deref(), Some("ak-1"));
    let c = ok(
        &ConfigOptions {
            token_id: Some("ak-2".into()),
            max_throttle_wait: Some(Duration::ZERO),
            ..none
        },
        &Vars::new(),
        Some(toml),
    );
    assert_eq!(c.token_id.as_deref(), Some("ak-2"));
    assert_eq!(c.max_throttle_wait, Some(Duration::ZERO));
}

#[test]
fn max_throttle_wait_as_modal_transforms_it() {
    let from_env = |v: &str| {
        resolve(
            &ConfigOptions::default(),
            &env(&[("MODAL_MAX_THROTTLE_WAIT", v)]),
            None,
        )
    };
    let secs = |n| Ok(Some(Duration::from_secs(n)));
    assert_eq!(from_env("10").map(|c| c.max_throttle_wait), secs(10));
    assert_eq!(from_env("0").map(|c| c.max_throttle_wait), secs(0));
    assert_eq!(from_env(" 1_5 ").map(|c| c.max_throttle_wait), secs(15));
    assert_eq!(from_env("").map(|c| c.max_throttle_wait), Ok(None));
    for bad in ["ten", "1.5", "-2", " "] {
        let e = from_env(bad).unwrap_err().to_string();
        assert!(
            e.contains("MODAL_MAX_THROTTLE_WAIT must be a whole number"),
            "{e}"
        );
    }
    let from_file = |v: &str| {
        resolve(
            &ConfigOptions::default(),
            &Vars::new(),
            Some(&format!("[default]\nmax_throttle_wait = {v}\n")),
        )
        .map(|c| c.max_throttle_wait)
    };
    // The integer 0 is falsy in Python, so no cap; the string "0" disables waiting.
    assert_eq!(from_file("0"), Ok(None));
    assert_eq!(from_file("\"0\""), secs(0));
    assert_eq!(from_file("\"\""), Ok(None));
    assert_eq!(from_file("45"), secs(45));
}

#[test]
fn server_url_is_checked_and_normalized() {
    let from_env = |v: &str| {
        resolve(
            &ConfigOptions::default(),
            &env(&[("MODAL_SERVER_URL", v)]),
            None,
        )
        .map(|c| c.server_url)
    };
    assert_eq!(
        from_env("http://127.0.0.1:8787/"),
        Ok("http://127.0.0.1:8787".into())
    );
    assert_eq!(
        from_env(" https://a.example , https://b.example"),
        Ok("https://a.example".into())
    );
    for bad in [
        "127.0.0.1:8787",
        "https://a.example,",
        "http://u:p@h",
        "grpc://h",
    ] {
        let e = from_env(bad).unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        let text = e.to_string();
        assert!(
            text.contains("MODAL_SERVER_URL must be an http:// or https:// URL"),
            "{text}"
        );
        assert!(!text.contains("8787") && !text.contains("u:p"), "{text}");
    }
    let e = resolve(
        &ConfigOptions {
            server_url: Some("nope".into()),
            ..Default::default()
        },
        &Vars::new(),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert!(
        e.to_string().starts_with("the serverUrl option must be"),
        "{e}"
    );
}

#[test]
fn tokens_must_fit_in_a_header_and_are_never_quoted() {
    let e = resolve(
        &ConfigOptions {
            token_secret: Some(Redacted::new("as-secret\n".into())),
            ..Default::default()
        },
        &Vars::new(),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)));
    assert!(e.to_string().contains("tokenSecret"), "{e}");
    assert!(!e.to_string().contains("as-secret"), "{e}");
    let e = err(
        &ConfigOptions::default(),
        &env(&[("MODAL_TOKEN_SECRET", "as-sécret")]),
        None,
    );
    assert!(
        e.contains("MODAL_TOKEN_SECRET") && !e.contains("sécret"),
        "{e}"
    );
}

#[test]
fn a_syntax_error_names_the_place_not_the_text() {
    let toml = "[default]\ntoken_id = \"ak-1\"\ntoken_secret = \"as-TopSecret123\nactive = true\n";
    let e = err(&ConfigOptions::default(), &Vars::new(), Some(toml));
    assert_eq!(
        e,
        "invalid Modal config: TOML syntax error at line 3, column 16: unterminated string"
    );
    let toml = "[default]\ntoken_secret = \"as-TopSecret123\" junk\n";
    let e = err(&ConfigOptions::default(), &Vars::new(), Some(toml));
    assert!(
        e.contains("line 2, column 34") && !e.contains("TopSecret"),
        "{e}"
    );
}

#[test]
fn debug_never_shows_the_token_secret() {
    let options = ConfigOptions {
        token_secret: Some(Redacted::new("as-DebugSecret".into())),
        ..Default::default()
    };
    let c = ok(&options, &Vars::new(), None);
    for text in [format!("{options:?}"), format!("{c:?}"), format!("{c:#?}")] {
        assert!(!text.contains("DebugSecret"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

#[test]
fn config_path_rule() {
    let home = Some("/home/u");
    assert_eq!(
        config_path(&Vars::new(), home).as_deref(),
        Some("/home/u/.modal.toml")
    );
    assert_eq!(
        config_path(&Vars::new(), Some("/home/u/")).as_deref(),
        Some("/home/u/.modal.toml")
    );
    assert_eq!(
        config_path(&Vars::new(), Some("/")).as_deref(),
        Some("/.modal.toml")
    );
    assert_eq!(config_path(&Vars::new(), None), None);
    assert_eq!(config_path(&Vars::new(), Some("")), None);
    let custom = env(&[("MODAL_CONFIG_PATH", "~/x.toml")]);
    assert_eq!(config_path(&custom, home).as_deref(), Some("~/x.toml"));
    assert_eq!(config_path(&custom, None).as_deref(), Some("~/x.toml"));
    let empty = env(&[("MODAL_CONFIG_PATH", "")]);
    assert_eq!(
        config_path(&empty, home).as_deref(),
        Some("/home/u/.modal.toml")
    );
    let remote = env(&[("MODAL_IS_REMOTE", "1"), ("MODAL_CONFIG_PATH", "/x")]);
    assert_eq!(config_path(&remote, home), None);
}

/// A random secret-looking value: long and random enough never to appear by chance.
fn secret_value() -> impl Strategy<Value = String> {
    "(as|ak|http://h)-[A-Za-z0-9]{10,16}"
}

/// A config file built from random profiles and values, then possibly damaged.
fn config_file() -> impl Strategy<Value = (String, Vec<String>)> {
    let value = prop_oneof![
        secret_value().prop_map(|s| (format!("\"{s}\""), Some(s))),
        secret_value().prop_map(|s| (format!("'{s}'"), Some(s))),
        secret_value().prop_map(|s| (format!("\"\"\"\n{s}\"\"\""), Some(s))),
        secret_value().prop_map(|s| (format!("[\"{s}\", 1]"), Some(s))),
        secret_value().prop_map(|s| (format!("{{ x = \"{s}\" }}"), Some(s))),
        (0i64..100).prop_map(|n| (n.to_string(), None)),
        any::<bool>().prop_map(|b| (b.to_string(), None)),
        Just(("1.5".to_owned(), None)),
    ];
    let key = prop_oneof![
        Just("token_id"),
        Just("token_secret"),
        Just("server_url"),
        Just("environment"),
        Just("max_throttle_wait"),
        Just("active"),
        Just("loglevel"),
    ];
    let profile = (
        prop_oneof![Just("default"), Just("dev"), Just("\"my prof\"")],
        prop::collection::vec((key, value), 0..6),
    );
    let damage = prop_oneof![
        Just(None),
        (
            any::<prop::sample::Index>(),
            "[\"'\\[\\]{}=#\n\\\\x .,]{0,3}"
        )
            .prop_map(Some),
    ];
    (prop::collection::vec(profile, 0..4), damage).prop_map(|(profiles, damage)| {
        let mut text = String::new();
        let mut values = Vec::new();
        for (name, entries) in profiles {
            text.push_str(&format!("[{name}]\n"));
            for (key, (literal, value)) in entries {
                text.push_str(&format!("{key} = {literal}\n"));
                values.extend(value);
            }
        }
        if let Some((at, junk)) = damage {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            text.insert_str(i, &junk);
        }
        (text, values)
    })
}

fn variables() -> impl Strategy<Value = Vars> {
    let name = prop_oneof![
        Just("MODAL_PROFILE"),
        Just("MODAL_SERVER_URL"),
        Just("MODAL_TOKEN_ID"),
        Just("MODAL_TOKEN_SECRET"),
        Just("MODAL_ENVIRONMENT"),
        Just("MODAL_MAX_THROTTLE_WAIT"),
    ];
    prop::collection::btree_map(name.prop_map(str::to_owned), "\\PC{0,12}", 0..4)
        .prop_map(|map| map.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,200}", vars in variables()) {
        let _ = resolve(&ConfigOptions::default(), &vars, Some(&text));
    }

    #[test]
    fn never_panics_on_toml_like_text(text in "[\\[\\]{}=\"'#\n\r\t .,_+:a-z0-9\\\\-]{0,120}") {
        let _ = resolve(&ConfigOptions::default(), &Vars::new(), Some(&text));
    }

    /// Whatever goes wrong, no message quotes a value of the file.
    #[test]
    fn errors_never_quote_file_values((text, values) in config_file(), vars in variables()) {
        if let Err(e) = resolve(&ConfigOptions::default(), &vars, Some(&text)) {
            let message = e.to_string();
            for value in &values {
                let random = &value[value.find('-').unwrap() + 1..];
                prop_assert!(!message.contains(random), "{message:?} quotes {value:?}");
            }
        }
    }

    /// A token secret from any layer never shows in Debug or in an error.
    #[test]
    fn token_secrets_stay_hidden(secret in "as-[A-Za-z0-9]{10,16}", layer in 0..3usize, other in "\\PC{0,20}") {
        let mut options = ConfigOptions::default();
        let mut vars = Vars::new();
        let mut toml = String::from("[default]\n");
        match layer {
            0 => options.token_secret = Some(Redacted::new(secret.clone())),
            1 => { vars.insert("MODAL_TOKEN_SECRET".to_owned(), secret.clone()); }
            _ => toml.push_str(&format!("token_secret = \"{secret}\"\n")),
        }
        vars.insert("MODAL_SERVER_URL".to_owned(), other);
        match resolve(&options, &vars, Some(&toml)) {
            Ok(c) => {
                prop_assert_eq!(c.token_secret.as_ref().map(|s| s.expose()), Some(&secret));
                let shown = format!("{c:?}");
                prop_assert!(!shown.contains(&secret));
            }
            Err(e) => prop_assert!(!e.to_string().contains(&secret)),
        }
    }
}
