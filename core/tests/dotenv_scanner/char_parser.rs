//! The parser as it was before its scanners worked on bytes (commit 0931cc4's core/src/dotenv.rs,
//! tests removed): it walks `char`s. Kept only as the reference that core/tests/dotenv_scanner.rs
//! checks the byte scanners against on random input. Moved to python-dotenv 1.2.4's rules (a
//! leading BOM dropped, `KEY= #c` empty, a backslash escaping any char in quotes) the plain way:
//! a quoted value is scanned char by char from its opening quote, with no memo.

#![allow(dead_code)]

use modal_secrets_core::vars::Vars;
use std::borrow::Cow;

/// Parses .env text as python-dotenv's `dotenv_values` does (interpolation on).
/// `env` plays the role of os.environ for ${VAR} interpolation.
///
/// The result is in the order of the Python dict: a repeated key keeps its first position and takes its
/// last value. A key with no `=` maps to `None`. Statements python-dotenv cannot parse are skipped as it
/// skips them (from where parsing failed to the end of that line).
pub fn parse(text: &str, env: &Vars) -> Vec<(String, Option<String>)> {
    let mut reader = Reader::new(text);
    let mut values: Vec<(&str, Option<String>)> = Vec::new();
    let mut index = KeyIndex::default();

    while let Some(step) = reader.next_binding() {
        let Step::Binding(key, raw) = step else {
            continue;
        };
        // Resolved against the keys before this one (and this key's earlier value), then `env`.
        let value = raw.map(|raw| interpolate(&raw, &values, &index, env));
        match index.get(key, &values) {
            Some(slot) => values[slot].1 = value,
            None => {
                index.insert(key, values.len(), &values);
                values.push((key, value));
            }
        }
    }
    values
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Where each key sits in the parse's list of values: an open-addressing hash table (FNV-1a, linear
/// probing) holding positions in that list. Lookups and inserts on every line made a `BTreeMap`'s
/// string comparisons most of the time of a large file's parse; std's `HashMap` would add
/// hashbrown and SipHash to the wasm (kilobytes) for what these few lines do.
#[derive(Default)]
struct KeyIndex {
    /// Position + 1 in the values list; 0 marks an empty slot. The length is 0 or a power of two.
    slots: Vec<u32>,
    len: usize,
}

impl KeyIndex {
    fn hash(key: &str) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in key.as_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h as usize
    }

    /// The position of `key` in `values`.
    fn get(&self, key: &str, values: &[(&str, Option<String>)]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(key) & mask;
        loop {
            let slot = *self.slots.get(i)? as usize;
            if slot == 0 {
                return None;
            }
            if values.get(slot - 1).is_some_and(|(k, _)| *k == key) {
                return Some(slot - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that `key` (not yet present) sits at `position`.
    fn insert(&mut self, key: &str, position: usize, values: &[(&str, Option<String>)]) {
        if (self.len + 1) * 2 > self.slots.len() {
            let mut grown = KeyIndex {
                slots: vec![0; (self.slots.len() * 2).max(16)],
                len: 0,
            };
            for &slot in self.slots.iter().filter(|&&s| s != 0) {
                if let Some((k, _)) = values.get(slot as usize - 1) {
                    grown.place(k, slot);
                }
            }
            *self = grown;
        }
        self.place(key, u32::try_from(position + 1).unwrap_or(u32::MAX));
    }

    fn place(&mut self, key: &str, slot: u32) {
        let mask = self.slots.len() - 1;
        let mut i = Self::hash(key) & mask;
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        self.len += 1;
    }
}

/// Python's `\s` (and `str.isspace`) for `str` patterns, which is wider than Rust's
/// `char::is_whitespace`: it includes the ASCII separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | '\u{1c}'..='\u{1f}'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `[^\S\r\n]`: whitespace that does not end a line.
fn is_inline_space(c: char) -> bool {
    c != '\n' && c != '\r' && is_py_space(c)
}

enum Step<'a> {
    /// A statement with a key: `(key, value before interpolation)`.
    Binding(&'a str, Option<Cow<'a, str>>),
    /// A comment, blank tail, or a statement python-dotenv could not parse.
    Nothing,
}

/// Parsing failed; the reader skips to the end of the current line, as python-dotenv does.
struct Unparsable;

/// "The first match at or after a position", remembered so that repeated searches from increasing
/// positions scan the text once in total. Valid because the reader's position never goes back.
#[derive(Default)]
struct Memo {
    /// `None`: never searched. `Some(None)`: nothing from the last query onwards.
    last: Option<Option<usize>>,
}

impl Memo {
    fn find(&mut self, from: usize, search: impl FnOnce(usize) -> Option<usize>) -> Option<usize> {
        match self.last {
            Some(None) => None,
            Some(Some(found)) if found >= from => Some(found),
            _ => {
                let found = search(from);
                self.last = Some(found);
                found
            }
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    /// Next `'` (the end of a single-quoted key).
    next_single: Memo,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: text
                .strip_prefix('\u{feff}')
                .map_or(0, |_| '\u{feff}'.len_utf8()),
            next_single: Memo::default(),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn rest(&self) -> &'a str {
        // `pos` only ever lands on char boundaries; `get` keeps a bug from becoming a panic.
        self.text.get(self.pos..).unwrap_or("")
    }

    fn peek_byte(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        let rest = self.rest();
        let stop = rest
            .char_indices()
            .find(|&(_, c)| !keep(c))
            .map_or(rest.len(), |(i, _)| i);
        self.pos += stop;
    }

    /// `[^\r\n]*`
    fn skip_to_line_end(&mut self) {
        let rest = self.bytes().get(self.pos..).unwrap_or(&[]);
        let stop = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        self.pos += stop;
    }

    /// One statement (python-dotenv's `parse_binding`), or `None` at the end of the text.
    fn next_binding(&mut self) -> Option<Step<'a>> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let step = match self.binding() {
            Ok(step) => step,
            Err(Unparsable) => {
                // `[^\r\n]*(?:\r|\n|\r\n)?`: `\r` is tried first, so a CRLF loses only its CR here
                // (the LF is whitespace before the next statement).
                self.skip_to_line_end();
                if self.pos < self.text.len() {
                    self.pos += 1;
                }
                Step::Nothing
            }
        };
        if self.pos == start {
            // Cannot happen (every path consumes something), but never loop forever.
            self.pos = self.text.len();
        }
        Some(step)
    }

    fn binding(&mut self) -> Result<Step<'a>, Unparsable> {
        self.skip_while(is_py_space);
        if self.pos >= self.text.len() {
            return Ok(Step::Nothing);
        }
        self.skip_export();
        let key = self.key()?;
        self.skip_while(is_inline_space);
        let value = if self.peek_byte() == Some(b'=') {
            self.pos += 1;
            let spaced = self.rest().chars().next().is_some_and(is_inline_space);
            self.skip_while(is_inline_space);
            if spaced && self.peek_byte() == Some(b'#') {
                Some(Cow::Borrowed(""))
            } else {
                Some(self.value()?)
            }
        } else {
            None
        };
        // Optional comment, then the end of the line.
        self.skip_while(is_inline_space);
        if self.peek_byte() == Some(b'#') {
            self.skip_to_line_end();
        }
        match self.peek_byte() {
            None => {}
            Some(b'\n') => self.pos += 1,
            Some(b'\r') => {
                self.pos += 1;
                if self.peek_byte() == Some(b'\n') {
                    self.pos += 1;
                }
            }
            Some(_) => return Err(Unparsable),
        }
        Ok(match key {
            Some(key) => Step::Binding(key, value),
            None => Step::Nothing,
        })
    }

    /// `(?:export[^\S\r\n]+)?`
    fn skip_export(&mut self) {
        if let Some(after) = self.rest().strip_prefix("export")
            && after.chars().next().is_some_and(is_inline_space)
        {
            self.pos += "export".len();
            self.skip_while(is_inline_space);
        }
    }

    /// A key, or `None` when the statement is a comment.
    fn key(&mut self) -> Result<Option<&'a str>, Unparsable> {
        match self.peek_byte() {
            Some(b'#') => Ok(None),
            Some(b'\'') => {
                // `'([^']+)'`: anything but a quote, newlines included; not empty.
                let open = self.pos;
                let bytes = self.bytes();
                let close = self
                    .next_single
                    .find(open + 1, |from| find_byte(bytes, from, b'\''));
                match close {
                    Some(close) if close > open + 1 => {
                        self.pos = close + 1;
                        Ok(self.text.get(open + 1..close))
                    }
                    _ => Err(Unparsable),
                }
            }
            _ => {
                // `[^=\#\s]+`
                let start = self.pos;
                self.skip_while(|c| c != '=' && c != '#' && !is_py_space(c));
                if self.pos == start {
                    return Err(Unparsable);
                }
                Ok(self.text.get(start..self.pos))
            }
        }
    }

    fn value(&mut self) -> Result<Cow<'a, str>, Unparsable> {
        match self.peek_byte() {
            Some(quote @ (b'\'' | b'"')) => {
                let raw = self.quoted(quote)?;
                Ok(if quote == b'"' {
                    decode_escapes(raw, |c| {
                        Some(match c {
                            '\\' | '\'' | '"' => c,
                            'a' => '\u{07}',
                            'b' => '\u{08}',
                            'f' => '\u{0c}',
                            'n' => '\n',
                            'r' => '\r',
                            't' => '\t',
                            'v' => '\u{0b}',
                            _ => return None,
                        })
                    })
                } else {
                    decode_escapes(raw, |c| matches!(c, '\\' | '\'').then_some(c))
                })
            }
            None | Some(b'\n' | b'\r') => Ok(Cow::Borrowed("")),
            Some(_) => {
                let start = self.pos;
                self.skip_to_line_end();
                let line = self.text.get(start..self.pos).unwrap_or("");
                Ok(Cow::Borrowed(strip_inline_comment(line)))
            }
        }
    }

    /// A value in `quote`s: python-dotenv's `'((?:\\.|[^'\\])*)'` (and the same with `"`), DOTALL.
    fn quoted(&mut self, quote: u8) -> Result<&'a str, Unparsable> {
        let from = self.pos + 1;
        let quote = char::from(quote);
        let mut chars = self.text.get(from..).unwrap_or("").char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos = from + i + 1;
                return Ok(self.text.get(from..from + i).unwrap_or(""));
            }
            if c == '\\' && chars.next().is_none() {
                break;
            }
        }
        Err(Unparsable)
    }
}

fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&b| b == byte)
        .map(|i| from + i)
}

/// An unquoted value: cut at the first whitespace run followed by `#` (`re.sub(r"\s+#.*", "")`), then
/// strip trailing whitespace. A `#` with no whitespace before it is part of the value.
fn strip_inline_comment(line: &str) -> &str {
    let mut space_run: Option<usize> = None;
    let mut end = line.len();
    for (i, c) in line.char_indices() {
        if is_py_space(c) {
            space_run.get_or_insert(i);
        } else if c == '#'
            && let Some(run) = space_run
        {
            end = run;
            break;
        } else {
            space_run = None;
        }
    }
    line.get(..end)
        .unwrap_or(line)
        .trim_end_matches(is_py_space)
}

/// Replaces each backslash escape, left to right, with `decode(next char)`; a backslash before a char
/// `decode` does not know stays as it is. Borrows when there is nothing to decode.
fn decode_escapes(raw: &str, decode: impl Fn(char) -> Option<char>) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut lookahead = chars.clone();
        match lookahead.next().and_then(&decode) {
            Some(decoded) => {
                out.push(decoded);
                chars = lookahead;
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// python-dotenv's `resolve_variables` for one value: each `${NAME}` or `${NAME:-DEFAULT}` (NAME without
/// `}` or `:`, DEFAULT without `}`; no nesting, no `$NAME`) becomes the value of NAME among the keys
/// parsed so far (a key with no value gives ""), else in `env`, else DEFAULT, else "".
fn interpolate(
    value: &str,
    earlier: &[(&str, Option<String>)],
    index: &KeyIndex,
    env: &Vars,
) -> String {
    let bytes = value.as_bytes();
    let mut out = String::new();
    let mut copied = 0; // `value[..copied]` is already in `out` (or replaced)
    let mut search = 0;
    let mut name_end = Memo::default();
    let mut brace = Memo::default();

    while let Some(dollar) = find_byte(bytes, search, b'$') {
        search = dollar + 1;
        if bytes.get(dollar + 1) != Some(&b'{') {
            continue;
        }
        let name_start = dollar + 2;
        let Some(stop) = name_end.find(name_start, |from| {
            bytes
                .get(from..)?
                .iter()
                .position(|&b| b == b'}' || b == b':')
                .map(|i| from + i)
        }) else {
            break; // no `}` or `:` left: no later `${` can match either
        };
        let (default, end) = if bytes.get(stop) == Some(&b'}') {
            (None, stop + 1)
        } else if bytes.get(stop + 1) == Some(&b'-') {
            let default_start = stop + 2;
            match brace.find(default_start, |from| find_byte(bytes, from, b'}')) {
                Some(close) => (value.get(default_start..close), close + 1),
                None => break, // no `}` left
            }
        } else {
            continue; // `:` without `-`: not a variable; try the next `$`
        };
        let name = value.get(name_start..stop).unwrap_or("");
        let resolved: &str = match index.get(name, earlier) {
            Some(slot) => earlier
                .get(slot)
                .and_then(|(_, v)| v.as_deref())
                .unwrap_or(""),
            None => env.get(name).or(default).unwrap_or(""),
        };
        out.push_str(value.get(copied..dollar).unwrap_or(""));
        out.push_str(resolved);
        copied = end;
        search = end;
    }
    if copied == 0 {
        return value.to_owned();
    }
    out.push_str(value.get(copied..).unwrap_or(""));
    out
}
