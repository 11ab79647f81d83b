//! Checks `dotenv::parse` against the real python-dotenv on every case of `tests/dotenv/cases.json`,
//! and on a seeded random corpus (`tests/dotenv/corpus.py`), through `tests/dotenv/oracle.py --rust`
//! (which echoes each case with its expected result, hex-encoded, so this test needs no JSON parser).
//!
//! Needs `python3` (or `$PYTHON`) with python-dotenv at [`PYTHON_DOTENV_VERSION`], the release the
//! parser follows; fails, never skips, when either is missing or another release is installed.
//! `DOTENV_CASES=/path/to/other.json` runs another case file (handy for generated differential runs);
//! `DOTENV_SEED=N` / `DOTENV_COUNT=N` another random corpus.

use modal_secrets_core::vars::Vars;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use modal_secrets_core::dotenv::{PYTHON_DOTENV_VERSION, parse};

fn install() -> String {
    format!("install Python 3, then `pip install python-dotenv=={PYTHON_DOTENV_VERSION}`")
}

/// At least this many random inputs are compared (issue 16).
const MIN_RANDOM: usize = 500;

type Pairs = Vec<(String, Option<String>)>;

struct Case {
    name: String,
    text: String,
    env: Vars,
    expected: Pairs,
}

fn unhex(hex: &str) -> String {
    assert!(hex.len() % 2 == 0, "odd hex length from oracle: {hex:?}");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit from oracle"))
        .collect();
    String::from_utf8(bytes).expect("oracle strings are UTF-8")
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/dotenv")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn oracle(cases_json: &[u8]) -> String {
    let python = python();
    let mut child = Command::new(&python)
        .arg(dir().join("oracle.py"))
        .arg("--rust")
        .arg("--version")
        .arg(PYTHON_DOTENV_VERSION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{python}` ({e}): {}", install()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = cases_json.to_vec();
    // Written from a thread so a large output cannot deadlock against a large input.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("oracle output");
    let written = writer.join().expect("writer thread");
    // The exit status first: an oracle that exits early (python-dotenv missing) breaks the pipe.
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {}
        Some(3) => panic!("python-dotenv is missing: {stderr}"),
        Some(4) => panic!(
            "wrong python-dotenv: the parser follows python-dotenv {PYTHON_DOTENV_VERSION} \
             (modal_secrets_core::dotenv::PYTHON_DOTENV_VERSION), and the oracle says:\n{stderr}"
        ),
        _ => panic!("oracle.py failed ({}):\n{stderr}", output.status),
    }
    written.expect("write cases to oracle");
    if !stderr.is_empty() {
        eprintln!("oracle.py: {stderr}");
    }
    String::from_utf8(output.stdout).expect("oracle stdout is ASCII")
}

fn read_cases(oracle_output: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for line in oracle_output.lines() {
        let mut words = line.split(' ');
        let tag = words.next().unwrap_or("");
        let mut word = || unhex(words.next().expect("field in oracle line"));
        match tag {
            "case" => {
                current = Some(Case {
                    name: word(),
                    text: String::new(),
                    env: Vars::new(),
                    expected: Vec::new(),
                })
            }
            "end" => cases.push(current.take().expect("`end` after `case`")),
            _ => {
                let case = current.as_mut().expect("line inside a case");
                match tag {
                    "text" => case.text = word(),
                    "env" => {
                        let key = word();
                        case.env.insert(key, word());
                    }
                    "expect" => {
                        let key = word();
                        let value = match words.next() {
                            Some("!") => None,
                            Some(v) => Some(unhex(v.strip_prefix('=').expect("`=` before value"))),
                            None => panic!("missing value in {line:?}"),
                        };
                        case.expected.push((key, value));
                    }
                    _ => panic!("unknown oracle line {line:?}"),
                }
            }
        }
    }
    assert!(current.is_none(), "oracle output ends inside a case");
    cases
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= 300 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(300).collect();
        format!("{head:?}… ({} chars)", s.chars().count())
    }
}

/// Compares every case the oracle answered with `parse`; panics listing those that differ.
fn check(cases: &[Case], what: &str) {
    let mut failures = Vec::new();
    for case in cases {
        let actual = parse(&case.text, &case.env);
        if actual != case.expected {
            let show = |pairs: &Pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("  {} = {}", shorten(k), shorten(v)),
                        None => format!("  {} (None)", shorten(k)),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            failures.push(format!(
                "case {:?}\ntext: {}\nenv: {:?}\npython-dotenv {PYTHON_DOTENV_VERSION}:\n{}\nours:\n{}",
                case.name,
                shorten(&case.text),
                case.env,
                show(&case.expected),
                show(&actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {what} differ from python-dotenv {PYTHON_DOTENV_VERSION}:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    println!(
        "{} {what} agree with python-dotenv {PYTHON_DOTENV_VERSION}",
        cases.len()
    );
}

#[test]
fn agrees_with_python_dotenv() {
    let path =
        std::env::var("DOTENV_CASES").map_or_else(|_| dir().join("cases.json"), PathBuf::from);
    let json = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let cases = read_cases(&oracle(&json));
    assert!(!cases.is_empty(), "no cases in {}", path.display());
    check(&cases, "cases");
}

#[test]
fn random_corpus_agrees_with_python_dotenv() {
    // corpus.py's own seed and count unless DOTENV_SEED / DOTENV_COUNT say otherwise.
    let mut generate = Command::new(python());
    generate.arg(dir().join("corpus.py"));
    for (var, flag) in [("DOTENV_SEED", "--seed"), ("DOTENV_COUNT", "--count")] {
        if let Ok(value) = std::env::var(var) {
            generate.arg(flag).arg(value);
        }
    }
    let output = generate
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{}` ({e}): {}", python(), install()));
    assert!(
        output.status.success(),
        "corpus.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let cases = read_cases(&oracle(&output.stdout));
    if std::env::var("DOTENV_COUNT").is_err() {
        assert!(
            cases.len() >= MIN_RANDOM,
            "only {} random inputs (at least {MIN_RANDOM})",
            cases.len()
        );
    }
    check(&cases, "random inputs");
}
