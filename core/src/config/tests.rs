//! Unit tests of config resolution (core/tests/config.rs checks it against Modal's Python client's rules).

use super::toml::{Val, parse};
use super::*;

fn profile<'t>(doc: &'t toml::Table, name: &str) -> &'t toml::Table {
    match doc.get(name) {
        Some(Val::Table(t)) => t,
        _ => panic!("no table {name}"),
    }
}

fn string<'t>(table: &'t toml::Table, key: &str) -> &'t str {
    match table.get(key) {
        Some(Val::Str(s)) => s,
        _ => panic!("no string {key}"),
    }
}

#[test]
fn reads_what_modal_token_set_writes_and_what_people_write_by_hand() {
    let text = "\u{feff}# Modal\r\n[default]\r\ntoken_id = \"ak-1\"\r\ntoken_secret = 'as-2'\r\n\
                active = true\r\n\n[\"my dev\" ]  # quoted\nserver_url=\"http://127.0.0.1:8787\"\n\
                max_throttle_wait = 1_0\nother.nested = [1, 2.5, 1979-05-27T07:32:00Z, {a = 1}]\n\
                [inline]\n[other]\nx = { token_id = \"\"\"\nline\\\n   joined\"\"\" }\n";
    let doc = parse(text).unwrap();
    let names: Vec<_> = doc.items.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["default", "my dev", "inline", "other"]);
    let default = profile(&doc, "default");
    assert_eq!(string(default, "token_id"), "ak-1");
    assert_eq!(string(default, "token_secret"), "as-2");
    assert!(matches!(default.get("active"), Some(Val::Bool(true))));
    let dev = profile(&doc, "my dev");
    assert_eq!(string(dev, "server_url"), "http://127.0.0.1:8787");
    assert!(matches!(dev.get("max_throttle_wait"), Some(Val::Int(10))));
    let Some(Val::Table(x)) = profile(&doc, "other").get("x") else {
        panic!("no inline table x")
    };
    assert_eq!(string(x, "token_id"), "linejoined");
}

#[test]
fn decodes_escapes_and_multi_line_strings() {
    let doc = parse(concat!(
        "[p]\n",
        r#"a = "tab\there \"q\" \\ \u00e9 \U0001F600 \e \x41""#,
        "\n",
        "b = '''\nraw \\n ''quoted'' '''\n",
        "c = \"\"\"two \"\"quotes\"\" end\"\"\"\"\"\n",
        "d = 'C:\\path'\n",
    ))
    .unwrap();
    let p = profile(&doc, "p");
    assert_eq!(string(p, "a"), "tab\there \"q\" \\ é 😀 \u{1b} A");
    assert_eq!(string(p, "b"), "raw \\n ''quoted'' ");
    assert_eq!(string(p, "c"), "two \"\"quotes\"\" end\"\"");
    assert_eq!(string(p, "d"), "C:\\path");
}

#[test]
fn numbers_and_dates() {
    let ok = [
        "0",
        "+1",
        "-17",
        "1_000",
        "0xDEAD_beef",
        "0o17",
        "0b101",
        "9223372036854775807",
        "-9223372036854775808",
        "1.5",
        "-0.0",
        "5e+22",
        "1E-2",
        "6.626e-34",
        "inf",
        "-nan",
        "1979-05-27",
        "07:32",
        "07:32:00.999",
        "1979-05-27T07:32:00Z",
        "1979-05-27 07:32-07:00",
        "2000-02-29t00:00:60.5+23:59",
    ];
    for v in ok {
        assert!(parse(&format!("[p]\nv = {v}\n")).is_ok(), "{v}");
    }
    let bad = [
        "01",
        "+0x1",
        "0X1",
        "1__0",
        "_1",
        "1_",
        "9223372036854775808",
        ".5",
        "5.",
        "1e",
        "1.e2",
        "0x",
        "1979-02-29",
        "1979-13-01",
        "1979-05-27T24:00",
        "1979-05-27T07:32:00+24:00",
        "07:32Z",
        "1979-05-27T07:32:00.Z",
        "truex",
        "tru",
        "nul",
    ];
    for v in bad {
        assert!(parse(&format!("[p]\nv = {v}\n")).is_err(), "{v}");
    }
}

#[test]
fn table_rules() {
    let ok = [
        "[a.b.c]\n[a]\n[a.b]\n",
        "[a]\nb.c = 1\nb.d = 2\n[a.b.e]\n",
        "[[p]]\nx = 1\n[[p]]\nx = 1\n[p.q]\n",
        "a = {b.c = 1, b.d = 2,\n}\n",
        "[a.b.c]\n[a]\nb.d = 1\n",
    ];
    for t in ok {
        assert!(parse(t).is_ok(), "{t:?}");
    }
    let bad = [
        ("[a]\n[a]\n", 2),
        ("[a]\nx = 1\nx = 2\n", 3),
        ("[a]\nb.c = 1\n[a.b]\n", 3),
        ("[a.b.c]\n[a]\nb.c.d = 1\n", 3),
        ("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n", 4),
        ("a = {b = 1}\n[a.c]\n", 2),
        ("a = {b = 1}\na.c = 2\n", 2),
        ("a = 1\n[a.b]\n", 2),
        ("a = [1]\n[[a]]\n", 2),
        ("a = {b =\n1}\n", 1),
    ];
    for (t, line) in bad {
        let e = parse(t).err().unwrap_or_else(|| panic!("accepted {t:?}"));
        assert_eq!(e.line, line, "{t:?}: {e:?}");
    }
}

#[test]
fn errors_point_at_line_and_column_in_characters() {
    let e = parse("[p]\nk = \"é\" x\n").err().unwrap();
    assert_eq!((e.line, e.column), (2, 9));
    assert_eq!(e.what, "expected the end of the line");
    let e = parse("[p]\r\nk = \"unterminated\n").err().unwrap();
    assert_eq!((e.line, e.column, e.what), (2, 5, "unterminated string"));
    let e = parse("a = 1\rb = 2").err().unwrap();
    assert_eq!((e.line, e.column), (1, 6));
    let e = parse("k = \"a\u{1}\"").err().unwrap();
    assert_eq!(e.what, "control character in a string");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    for text in [
        format!("a = {}", "[".repeat(100_000)),
        format!("a = {}", "{b = ".repeat(100_000)),
        format!("[{}]", vec!["a"; 100_000].join(".")),
        format!("{} = 1", vec!["a"; 100_000].join(".")),
    ] {
        let e = parse(&text).err().unwrap();
        assert!(e.what.contains("nested too deeply"), "{}", e.what);
    }
    // 128 levels in all, the key's table level included.
    assert!(parse(&format!("a = {}{}", "[".repeat(127), "]".repeat(127))).is_ok());
    assert!(parse(&format!("a = {}{}", "[".repeat(128), "]".repeat(128))).is_err());
}

#[test]
fn seconds_read_as_python_int_of_a_string() {
    let secs = |n| Some(Some(Duration::from_secs(n)));
    assert_eq!(seconds(""), Some(None));
    assert_eq!(seconds("0"), secs(0));
    assert_eq!(seconds("-0"), secs(0));
    assert_eq!(seconds("+7"), secs(7));
    assert_eq!(seconds(" 1_0\n"), secs(10));
    assert_eq!(seconds("007"), secs(7));
    for bad in [
        " ",
        "x",
        "1.5",
        "-1",
        "1__0",
        "_1",
        "1e3",
        "0x10",
        "99999999999999999999",
    ] {
        assert_eq!(seconds(bad), None, "{bad:?}");
    }
}

#[test]
fn server_urls() {
    let ok = [
        ("https://api.modal.com", "https://api.modal.com"),
        ("HTTP://127.0.0.1:8787/", "http://127.0.0.1:8787"),
        ("http://[::1]:8787", "http://[::1]:8787"),
        ("https://gw.example/modal/", "https://gw.example/modal"),
        ("https://gw.example//", "https://gw.example"),
        ("http://h/http://", "http://h/http:"),
        ("http://localhost:1", "http://localhost:1"),
    ];
    for (input, want) in ok {
        assert_eq!(normalize_url(input).as_deref(), Some(want), "{input}");
    }
    let bad = [
        "",
        "api.modal.com",
        "ftp://x",
        "http://",
        "http:///path",
        "http://user:pw@h",
        "http://h:0",
        "http://h:65536",
        "http://h:",
        "http://h:8_0",
        "http://h?q=1",
        "http://h#f",
        "http://h x",
        "http://-h",
        "http://h\\p",
        "http://[]",
        "http://[::1]x",
        "unix:///tmp/s",
        "http://hé",
    ];
    for input in bad {
        assert_eq!(normalize_url(input), None, "{input}");
    }
}
