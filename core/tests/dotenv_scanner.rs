//! The byte scanners of `dotenv::parse` against the `char` scanners they replaced
//! (dotenv_scanner/char_parser.rs): the same result on random input, whitespace of every kind
//! Python knows (ASCII separators, U+0085, U+3000, …), multi-byte chars next to the grammar's
//! special characters, and every line ending.

#[path = "dotenv_scanner/char_parser.rs"]
mod char_parser;

use modal_secrets_core::vars::Vars;
use std::borrow::Cow;

use modal_secrets_core::dotenv::{parse, parse_bindings, parse_borrowed};
use proptest::prelude::*;

/// Tokens that exercise every scanner: the grammar's ASCII, Python's whitespace (ASCII and not),
/// chars Rust calls whitespace but Python does not (and the reverse), and multi-byte chars whose
/// UTF-8 bytes end like ASCII would if a scanner mixed up bytes and chars.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "\"", "'", "=", "#", "${", "}", ":-", ":", "$", "\\", "\\\"", "\\'", "\\n", "\n", "\r",
            "\r\n", " ", "\t", "\u{0b}", "\u{0c}", "\u{1c}", "\u{1f}", "\u{85}", "\u{a0}",
            "\u{1680}", "\u{2000}", "\u{200a}", "\u{200b}", "\u{2028}", "\u{2029}", "\u{202f}",
            "\u{205f}", "\u{3000}", "\u{feff}", "é", "€", "𝄞", "\u{fffd}", "export ", "export\t",
            "export", "A", "B", "KEY", "x y",
        ])
        .prop_map(str::to_owned),
        "[A-Za-z_]{1,4}",
        any::<char>().prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..80).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn byte_scanners_agree_with_char_scanners(text in text(), env_value in text()) {
        let env = Vars::from([("A".to_owned(), env_value), ("KEY".to_owned(), "k".to_owned())]);
        prop_assert_eq!(parse(&text, &env), char_parser::parse(&text, &env));
    }

    #[test]
    fn bindings_assigned_in_turn_agree_with_char_scanners(text in text(), env_value in text()) {
        // What parseDotenv's JS does with `parse_bindings`: assign each to one object in turn.
        let env = Vars::from([("A".to_owned(), env_value), ("KEY".to_owned(), "k".to_owned())]);
        let mut object: Vec<(String, Option<String>)> = Vec::new();
        for (key, value) in parse_bindings(&text, &env) {
            let value = value.map(Cow::into_owned);
            match object.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => object.push((key.to_owned(), value)),
            }
        }
        prop_assert_eq!(object, char_parser::parse(&text, &env));
    }

    #[test]
    fn byte_scanners_agree_on_any_string(text in any::<String>()) {
        let env = Vars::new();
        prop_assert_eq!(parse(&text, &env), char_parser::parse(&text, &env));
    }

    #[test]
    fn borrowed_values_are_slices_of_the_text_or_changed(text in text()) {
        // A borrowed value is the text's own bytes; an owned one was unescaped or interpolated.
        let range = text.as_ptr() as usize..text.as_ptr() as usize + text.len() + 1;
        for (key, value) in parse_borrowed(&text, &Vars::new()) {
            prop_assert!(range.contains(&(key.as_ptr() as usize)));
            if let Some(Cow::Borrowed(value)) = value {
                prop_assert!(value.is_empty() || range.contains(&(value.as_ptr() as usize)));
            }
        }
    }
}

#[test]
fn agree_on_the_bench_like_lines_and_odd_whitespace() {
    let cases = [
        "A=x\u{1c}#c\nB=\u{3000}y\u{3000}\nC=a\u{85}#b\nD=\u{2028}\n",
        "A=é#x\nB=é #x\nC=€\u{a0}#\nD='é\\'x'\nE=\"é\\n€\"\n",
        "\u{3000}export\u{3000}A=1\n\u{feff}B=2\nC\u{200b}=3\n",
        "A=\"x\\\nB=1\\\"\nC='\\\\'\n",
    ];
    for text in cases {
        assert_eq!(
            parse(text, &Vars::new()),
            char_parser::parse(text, &Vars::new()),
            "{text:?}"
        );
    }
}
