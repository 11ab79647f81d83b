//! The parser's unit tests (python-dotenv's own answers are checked in core/tests/dotenv_python.rs).

use super::*;
use proptest::prelude::*;

fn run(text: &str) -> Vec<(String, Option<String>)> {
    parse(text, &Vars::new())
}

fn run_env(text: &str, env: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
    let env = env
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    parse(text, &env)
}

fn pairs(expected: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    expected
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect()
}

#[test]
fn simple_lines_comments_and_export() {
    let text = "# top\nA=1\nexport B = two  # note\n\n  C\nD=\n";
    assert_eq!(
        run(text),
        pairs(&[
            ("A", Some("1")),
            ("B", Some("two")),
            ("C", None),
            ("D", Some(""))
        ])
    );
}

#[test]
fn hash_without_space_before_it_is_part_of_the_value() {
    assert_eq!(
        run("A=a#b\nB= #c\nC=x #y\nD=#d\nE=\t#e\nF=\u{3000}#f\nG =#g"),
        pairs(&[
            ("A", Some("a#b")),
            ("B", Some("")),
            ("C", Some("x")),
            ("D", Some("#d")),
            ("E", Some("")),
            ("F", Some("")),
            ("G", Some("#g")),
        ])
    );
}

#[test]
fn one_leading_bom_is_dropped() {
    assert_eq!(
        run("\u{feff}export A=1\n\u{feff}B=2"),
        pairs(&[("A", Some("1")), ("\u{feff}B", Some("2"))])
    );
    assert_eq!(run("\u{feff}# c\nA=1"), pairs(&[("A", Some("1"))]));
    assert_eq!(
        run("\u{feff}\u{feff}A=1"),
        pairs(&[("\u{feff}A", Some("1"))])
    );
}

#[test]
fn quotes_and_escapes() {
    let text = "A=\"l1\\nl2\\t\\\"q\\\" \\u00e9\"\nB='it\\'s \\n'\nC=\"multi\nline\" # c\n";
    assert_eq!(
        run(text),
        pairs(&[
            ("A", Some("l1\nl2\t\"q\" \\u00e9")),
            ("B", Some("it's \\n")),
            ("C", Some("multi\nline")),
        ])
    );
}

#[test]
fn unparsable_statements_are_skipped_to_end_of_line() {
    let text = "=x\nA B=1\nC=\"open\nD='x'junk\nE=ok\n'' =1\nexport =2\nF=1";
    assert_eq!(run(text), pairs(&[("E", Some("ok")), ("F", Some("1"))]));
}

#[test]
fn a_backslash_escapes_any_char_in_quotes() {
    // `\\` is one escaped backslash, so the quote after it closes the value.
    assert_eq!(
        run("A='a\\\\'\nB=\"b\\\\\"\nC='c\\\\\\'d'\nD=\"x\\\ny\""),
        pairs(&[
            ("A", Some("a\\")),
            ("B", Some("b\\")),
            ("C", Some("c\\'d")),
            ("D", Some("x\\\ny")),
        ])
    );
}

#[test]
fn unterminated_quote_skips_one_line() {
    // No backtracking to an escaped quote further on: the statement fails at its line.
    let text = "A=\"x\nB=1\nC=\\\"y\nD=2";
    assert_eq!(
        run(text),
        pairs(&[("B", Some("1")), ("C", Some("\\\"y")), ("D", Some("2"))])
    );
    let text = "A=\"x \\\" y\" #c\nB=2";
    assert_eq!(run(text), pairs(&[("A", Some("x \" y")), ("B", Some("2"))]));
    // A later opening quote that the failed scan read as escaped fails too.
    let text = "A='x\nB=\\'y\nC='z'\nD=1";
    assert_eq!(run(text), pairs(&[("D", Some("1"))]));
}

#[test]
fn repeated_key_keeps_first_position_and_last_value() {
    assert_eq!(
        run("A=1\nB=2\nA=3"),
        pairs(&[("A", Some("3")), ("B", Some("2"))])
    );
}

#[test]
fn bindings_keep_repeated_keys_and_interpolate_in_order() {
    let text = "A=1\nB=${A}\nA=2\nC=${A}-${B}\nB\nA=${B:-x}${A}\nD=${Z:-z}";
    let bindings: Vec<(String, Option<String>)> = parse_bindings(text, &Vars::new())
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(Cow::into_owned)))
        .collect();
    assert_eq!(
        bindings,
        pairs(&[
            ("A", Some("1")),
            ("B", Some("1")),
            ("A", Some("2")),
            ("C", Some("2-1")),
            ("B", None),
            ("A", Some("2")),
            ("D", Some("z")),
        ])
    );
    assert_eq!(
        run(text),
        pairs(&[
            ("A", Some("2")),
            ("B", None),
            ("C", Some("2-1")),
            ("D", Some("z"))
        ])
    );
}

#[test]
fn line_endings() {
    assert_eq!(
        run("A=1\r\nB='x'\rC=3\r"),
        pairs(&[("A", Some("1")), ("B", Some("x")), ("C", Some("3"))])
    );
}

#[test]
fn interpolation() {
    let text = "A=1\nB=${A}-${X}-${Y:-dflt}-${Z}\nC=\nD=${C:-d}\nE\nF=${E:-e}\nG='${A}'\nH=$A\nI=${A:-${B}}\nJ=${A:x}";
    assert_eq!(
        run_env(text, &[("X", "env"), ("A", "shadowed")]),
        pairs(&[
            ("A", Some("1")),
            ("B", Some("1-env-dflt-")),
            ("C", Some("")),
            ("D", Some("")),
            ("E", None),
            ("F", Some("")),
            ("G", Some("1")),
            ("H", Some("$A")),
            ("I", Some("1}")),
            ("J", Some("${A:x}")),
        ])
    );
}

#[test]
fn quoted_and_odd_keys() {
    assert_eq!(
        run("'my key'=1\n\"q\"=2\na.b-c=3\nexport=4\nexport\n"),
        pairs(&[
            ("my key", Some("1")),
            ("\"q\"", Some("2")),
            ("a.b-c", Some("3")),
            ("export", None),
        ])
    );
}

#[test]
fn python_whitespace_is_wider_than_rust_whitespace() {
    assert_eq!(
        run("A=x\u{1c}#c\nB=\u{3000}y\u{3000}"),
        pairs(&[("A", Some("x")), ("B", Some("y"))])
    );
}

#[test]
fn one_megabyte_of_hostile_input_is_fast() {
    // Each of these makes python-dotenv rescan the rest of the file; we must not.
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push_str("A=\"open\nB='open\n'open\nC=${${${:${x:-\nD=plain value # c\n");
    }
    let out = run(&text);
    assert!(out.iter().any(|(k, _)| k == "D"));
    // Quotes escaped, or closed right after an escaped backslash: each unclosed one must not
    // rescan the rest of the file either.
    let escapes = "E='\\'\nF=\"\\\"\nG='a\\\\'b\nH=1\n".repeat(1 << 16);
    assert!(run(&escapes).iter().any(|(k, _)| k == "H"));
    let long = format!("X={}", "${a".repeat(300_000));
    assert_eq!(run(&long).len(), 1);
}

fn dotenvish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("=".to_owned()),
        Just("#".to_owned()),
        Just("${".to_owned()),
        Just("}".to_owned()),
        Just(":-".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("export ".to_owned()),
        Just("\u{3000}".to_owned()),
        Just("é".to_owned()),
        "[A-Za-z_]{1,4}",
    ];
    prop::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #[test]
    fn find_either_is_the_first_of_either_byte(
        bytes in prop::collection::vec(prop::sample::select(vec![0u8, 1, b'\n', b'\r', b'#', 0x7f, 0x80, 0xff]), 0..80),
        from in 0usize..90,
        a in prop::sample::select(vec![0u8, b'\n', b'#', 0x80, 0xff]),
        b in prop::sample::select(vec![0u8, b'\r', b'#', 0x7f]),
    ) {
        let naive = bytes
            .get(from..)
            .and_then(|rest| rest.iter().position(|&c| c == a || c == b))
            .map(|i| from + i);
        prop_assert_eq!(find_either(&bytes, from, a, b), naive);
        let naive_a = bytes.get(from..).and_then(|rest| rest.iter().position(|&c| c == a)).map(|i| from + i);
        prop_assert_eq!(find_byte(&bytes, from, a), naive_a);
    }

    #[test]
    fn never_panics_and_keys_come_from_the_input(text in any::<String>()) {
        for (key, _) in parse(&text, &Vars::new()) {
            prop_assert!(text.contains(&key));
        }
    }

    #[test]
    fn dotenvish_never_panics_and_keys_come_from_the_input(
        text in dotenvish(),
        env_value in dotenvish(),
    ) {
        let env = Vars::from([("A".to_owned(), env_value)]);
        for (key, _) in parse(&text, &env) {
            prop_assert!(!key.is_empty());
            prop_assert!(text.contains(&key));
        }
    }

    #[test]
    fn simple_lines_round_trip(
        lines in prop::collection::vec(("[A-Za-z_][A-Za-z0-9_.]{0,8}", "[A-Za-z0-9_./:-]{0,12}"), 0..20),
    ) {
        let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let mut expected: Vec<(String, Option<String>)> = Vec::new();
        for (k, v) in &lines {
            match expected.iter_mut().find(|(ek, _)| ek == k) {
                Some(slot) => slot.1 = Some(v.clone()),
                None => expected.push((k.clone(), Some(v.clone()))),
            }
        }
        prop_assert_eq!(parse(&text, &Vars::new()), expected);
    }
}
