//! A native timing of `dotenv::parse` on the 1 MiB .env that bench/client.mjs generates (the same
//! `makeDotenv`, line for line), for working on the parser without rebuilding the wasm:
//!
//! ```sh
//! cargo test -p modal-secrets-core --release --test dotenv_speed -- --ignored --nocapture
//! ```
//!
//! Ignored by default: a timing is no test. The unignored test only checks the generator's output
//! parses to the keys the bench reports.

use modal_secrets_core::vars::Vars;
use std::time::Instant;

use modal_secrets_core::dotenv::{parse, parse_bindings, parse_borrowed};

/// The previous, `char`-walking parser, timed beside the current one.
#[path = "dotenv_scanner/char_parser.rs"]
mod char_parser;

/// bench/client.mjs `makeDotenv(bytes)`.
fn make_dotenv(bytes: usize) -> String {
    let mut parts = Vec::new();
    let mut size = 0;
    let mut i = 0usize;
    while size < bytes {
        let k = format!("KEY_{i}");
        let line = match i % 10 {
            0 => format!("{k}=plain-value-{i}-abcdefghijklmnopqrstuvwxyz"),
            1 => format!(
                "export {k}=\"double quoted \\n with an escape and ${{KEY_{}}}\"",
                i.wrapping_sub(1)
            ),
            2 => format!("{k}='single quoted, $NOT_EXPANDED, {i}'"),
            3 => format!("# a comment line {i}\n{k}=value-{i} # and a trailing comment"),
            4 => format!("{k}=\"a value over\ntwo lines {i}\""),
            5 => format!(
                "{k}=${{KEY_{}}}/${{MISSING_{i}:-fallback}}/suffix",
                i.wrapping_sub(5)
            ),
            6 => format!("  {k} = spaced-value-{i}  "),
            7 => format!("{k}={}{i}", "x".repeat(200)),
            8 => format!("\n{k}="),
            _ => format!("{k}=\"quoted with 'inner' quotes and a # hash {i}\""),
        };
        size += line.len() + 1;
        parts.push(line);
        i += 1;
    }
    let mut text = parts.join("\n");
    text.push('\n');
    text
}

#[test]
fn generated_file_parses_to_one_key_per_line() {
    let text = make_dotenv(1 << 16);
    let lines = text.matches("KEY_").count() - text.matches("${KEY_").count();
    assert_eq!(parse(&text, &Vars::new()).len(), lines);
}

#[test]
#[ignore = "a timing, not a test: run with --release --ignored --nocapture"]
fn time_one_megabyte() {
    let text = make_dotenv(1 << 20);
    let env = Vars::new();
    time(&text, "dotenv::parse_borrowed", || {
        parse_borrowed(&text, &env).len()
    });
    time(&text, "dotenv::parse", || parse(&text, &env).len());
    time(&text, "char_parser::parse (before)", || {
        char_parser::parse(&text, &env).len()
    });
}

fn time(text: &str, what: &str, run: impl Fn() -> usize) {
    let runs = 50;
    let mut times = Vec::with_capacity(runs);
    let mut keys = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        keys = run();
        times.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{what}, {} bytes, {keys} keys: median {:.3} ms, min {:.3} ms, max {:.3} ms ({runs} runs)",
        text.len(),
        times[runs / 2],
        times[0],
        times[runs - 1]
    );
}

/// Issue 16's file of short lines: `KEY_i="value i ${KEY_0}" # c`, `export P_i=plaini`,
/// `Q_i='single i'`, in turn, until `bytes`.
fn make_short_lines(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 64);
    let mut i = 0usize;
    while text.len() < bytes {
        match i % 3 {
            0 => text.push_str(&format!("KEY_{i}=\"value {i} ${{KEY_0}}\" # c\n")),
            1 => text.push_str(&format!("export P_{i}=plain{i}\n")),
            _ => text.push_str(&format!("Q_{i}='single {i}'\n")),
        }
        i += 1;
    }
    text
}

#[test]
#[ignore = "a timing, not a test: run with --release --ignored --nocapture"]
fn time_by_size() {
    // Throughput must not fall with size: the parse is linear.
    let env = Vars::new();
    for mb in [1, 4, 16] {
        let text = make_short_lines(mb << 20);
        let runs: [(&str, &dyn Fn() -> usize); 2] = [
            ("parse_borrowed", &|| parse_borrowed(&text, &env).len()),
            ("parse_bindings (parseDotenv's)", &|| {
                parse_bindings(&text, &env).len()
            }),
        ];
        for (what, run) in runs {
            let mut times = Vec::new();
            let mut keys = 0;
            for _ in 0..3 {
                let t0 = Instant::now();
                keys = run();
                times.push(t0.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{what}, {mb} MiB, {keys} bindings: median {:.1} ms, {:.1} MB/s",
                times[1] * 1e3,
                text.len() as f64 / times[1] / 1e6
            );
        }
    }
}
