//! Checks on names and keys, made before any request is sent. Messages quote the offending name or
//! key (those are not secret) but never a value.

use crate::error::Error;

/// Modal's limit on an object name.
pub const MAX_NAME_LEN: usize = 64;

/// How much of an offending input a message quotes, so a megabyte of junk stays out of logs.
const QUOTE_MAX_CHARS: usize = 80;

/// A secret's name: 1..=64 characters of `[a-zA-Z0-9-_.]`, and not shaped like an app id
/// (`ap-` followed by 22 alphanumerics), as Modal's clients check.
pub fn secret_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid("secret name must not be empty"));
    }
    if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(Error::invalid(format!(
            "invalid secret name {}: {} is not allowed; use only letters, digits, '-', '_' and '.'",
            quote(name),
            describe_char(bad)
        )));
    }
    // All characters are ASCII from here on, so len() counts characters.
    if name.len() > MAX_NAME_LEN {
        return Err(Error::invalid(format!(
            "invalid secret name {}: {} characters, at most {MAX_NAME_LEN} allowed",
            quote(name),
            name.len()
        )));
    }
    if is_app_id(name) {
        return Err(Error::invalid(format!(
            "invalid secret name {}: it looks like an app id (ap-…); choose another name",
            quote(name)
        )));
    }
    Ok(())
}

/// The file name `Secret.fromDotenv` looks for in each directory (`options.filename`): a name
/// such as ".env.local", not a path.
pub fn dotenv_filename(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::invalid(
            "Secret.fromDotenv: options.filename must be a non-empty string, got an empty string",
        ));
    }
    if name.contains(['/', '\\']) {
        return Err(Error::invalid(
            "Secret.fromDotenv: options.filename must be a file name such as \".env.local\", not a path",
        ));
    }
    Ok(())
}

/// An environment variable name as Modal's JS client requires: `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn env_key(key: &str) -> Result<(), Error> {
    let mut chars = key.chars();
    let Some(first) = chars.next() else {
        return Err(Error::invalid("secret key must not be empty"));
    };
    let bad = if first.is_ascii_alphabetic() || first == '_' {
        chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
    } else {
        Some(first)
    };
    match bad {
        None => Ok(()),
        Some(c) if c == first && !(first.is_ascii_alphabetic() || first == '_') => {
            Err(Error::invalid(format!(
                "invalid secret key {}: it must start with a letter or '_', not {}",
                quote(key),
                describe_char(c)
            )))
        }
        Some(c) => Err(Error::invalid(format!(
            "invalid secret key {}: {} is not allowed; use only letters, digits and '_'",
            quote(key),
            describe_char(c)
        ))),
    }
}

/// An environment's name as Modal resolves it (`main`, `dev`, …): at most 64 characters, starting
/// with a letter or digit, then letters, digits, '-', '_' or '.'. "" means the workspace default.
pub fn environment_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Ok(());
    }
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if name.len() > MAX_NAME_LEN || !starts_well || !name.chars().all(is_name_char) {
        return Err(Error::invalid(format!(
            "invalid environment name {}: use 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.', \
             starting with a letter or digit",
            quote(name)
        )));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `^ap-[a-zA-Z0-9]{22}$`
fn is_app_id(name: &str) -> bool {
    name.strip_prefix("ap-")
        .is_some_and(|rest| rest.len() == 22 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `"name"`, shortened with `…` past a limit; control characters escaped so a message stays one line.
pub fn quote(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(QUOTE_MAX_CHARS) + 4);
    out.push('"');
    for (i, c) in input.chars().enumerate() {
        if i == QUOTE_MAX_CHARS {
            out.push('…');
            break;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c if c.is_control() || c.is_whitespace() => format!("the character U+{:04X}", c as u32),
        c => format!("'{c}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<(), Error>) -> String {
        r.expect_err("should be rejected").to_string()
    }

    #[test]
    fn names_at_the_length_limit() {
        let at_limit = "a".repeat(64);
        assert!(secret_name(&at_limit).is_ok());
        let over = "a".repeat(65);
        let msg = message(secret_name(&over));
        assert!(msg.contains("65 characters, at most 64"), "{msg}");
    }

    #[test]
    fn name_charset() {
        for ok in ["foo", "my-secret_1.prod", "A", "...", "-", "0"] {
            assert!(secret_name(ok).is_ok(), "{ok}");
        }
        for (bad, what) in [
            ("my secret", "a space"),
            ("a/b", "'/'"),
            ("naïve", "'ï'"),
            ("tab\there", "U+0009"),
            ("emoji🔑", "'🔑'"),
        ] {
            let msg = message(secret_name(bad));
            assert!(msg.contains(what), "{bad}: {msg}");
        }
        assert_eq!(message(secret_name("")), "secret name must not be empty");
    }

    #[test]
    fn app_id_pattern() {
        let app_id = format!("ap-{}", "a1B2c3D4e5".repeat(3).get(..22).unwrap());
        assert_eq!(app_id.len(), 25);
        let msg = message(secret_name(&app_id));
        assert!(msg.contains("app id"), "{msg}");
        // One character short or long, or another prefix: an ordinary name.
        assert!(secret_name(&app_id[..24]).is_ok());
        assert!(secret_name(&format!("{app_id}x")).is_ok());
        assert!(secret_name(&format!("xp-{}", &app_id[3..])).is_ok());
        assert!(secret_name(&format!("ap-{}", "_".repeat(22))).is_ok());
    }

    #[test]
    fn env_keys() {
        for ok in ["A", "_", "FOO_BAR", "a1", "_9"] {
            assert!(env_key(ok).is_ok(), "{ok}");
        }
        assert_eq!(message(env_key("")), "secret key must not be empty");
        assert!(message(env_key("1ABC")).contains("must start with a letter or '_', not '1'"));
        assert!(message(env_key("A-B")).contains("'-' is not allowed"));
        assert!(message(env_key("A B")).contains("a space is not allowed"));
        assert!(message(env_key("KEY=1")).contains("'=' is not allowed"));
    }

    #[test]
    fn messages_are_bounded_and_one_line() {
        let huge = "x/".repeat(1 << 20);
        let msg = message(secret_name(&huge));
        assert!(msg.len() < 300, "{}", msg.len());
        let msg = message(env_key("A\nB"));
        assert!(!msg.contains('\n'), "{msg}");
    }

    #[test]
    fn environment_names() {
        assert!(environment_name("").is_ok());
        assert!(environment_name("main").is_ok());
        assert!(environment_name("dev-2.old_x").is_ok());
        assert!(environment_name("dev env").is_err());
        assert!(environment_name("-dev").is_err());
        assert!(environment_name("_dev").is_err());
        assert!(environment_name(&"e".repeat(65)).is_err());
    }
}
