//! A `.env` parser that gives exactly what python-dotenv's `dotenv_values` gives (interpolation on), in
//! the release [`PYTHON_DOTENV_VERSION`] names, so `Secret.fromDotenv` here and
//! `modal.Secret.from_dotenv` in Python agree on every file.
//!
//! python-dotenv is a set of regexes driven by a cursor; this module follows the same grammar with
//! hand-written scanners (no regex crate: wasm size). Where python-dotenv's regexes backtrack or rescan
//! the rest of the file, we cache the answer instead, so the whole parse stays O(n).
//! `tests/dotenv/cases.json` with `core/tests/dotenv_python.rs` checks us against the real thing.

use crate::vars::Vars;
use std::borrow::Cow;

mod values;

use values::{decode_escapes, interpolate, variables};

/// The python-dotenv release this parser follows. Modal's Python client imports whatever
/// python-dotenv its user installed, which is the newest release; `tests/dotenv/oracle.py` refuses
/// to answer for any other version, and scripts/setup.sh installs this one.
pub const PYTHON_DOTENV_VERSION: &str = "1.2.4";

/// Parses .env text as python-dotenv's `dotenv_values` does (interpolation on).
/// `env` plays the role of os.environ for ${VAR} interpolation.
///
/// The result is in the order of the Python dict: a repeated key keeps its first position and takes its
/// last value. A key with no `=` maps to `None`. Statements python-dotenv cannot parse are skipped as it
/// skips them (from where parsing failed to the end of that line).
pub fn parse(text: &str, env: &Vars) -> Vec<(String, Option<String>)> {
    parse_borrowed(text, env)
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.map(Cow::into_owned)))
        .collect()
}

/// [`parse`] without copying: keys are slices of `text`, and so is every value that needed no
/// unescaping or interpolation (most of them).
pub fn parse_borrowed<'a>(text: &'a str, env: &Vars) -> Vec<(&'a str, Option<Cow<'a, str>>)> {
    let mut values: Vec<Pair<'a>> = Vec::new();
    let mut index = KeyIndex::default();
    for (key, value) in parse_bindings(text, env) {
        let hash = KeyIndex::hash(key);
        match index.get(key, hash, |slot| values.get(slot).map(|(k, _)| *k)) {
            Some(slot) => values[slot].1 = value,
            None => {
                index.insert(hash, values.len());
                values.push((key, value));
            }
        }
    }
    values
}

/// Every statement with a key, in the order of the text, values interpolated, and a repeated key
/// not merged: assigning them in turn to a Python dict (or a JS object: the first assignment
/// places a key, the last gives its value) gives [`parse_borrowed`]'s result. `parseDotenv` hands
/// them to JS so: V8 hashes every key anyway, and hashing them here as well was the part of the
/// parse that grew with the file (a table of every key, probed at random, outgrows the caches).
///
/// Only the keys some `${NAME}` names are looked up, so only those are indexed: usually a handful.
pub fn parse_bindings<'a>(text: &'a str, env: &Vars) -> Vec<Pair<'a>> {
    let mut reader = Reader::new(text);
    let mut bindings: Vec<Pair<'a>> = Vec::new();
    // The names of every `${NAME}`, each with its latest binding so far (an index in `bindings`).
    let mut names = Names::default();
    while let Some(step) = reader.next_binding() {
        let Step::Binding(key, raw) = step else {
            continue;
        };
        if let Some(raw) = &raw {
            variables(raw, |variable| names.add(variable.name));
        }
        bindings.push((key, raw));
    }
    if names.is_empty() {
        return bindings;
    }
    // python-dotenv's `resolve_variables`: in order, each value against the bindings before it
    // (this key's earlier one included), then `env`.
    for at in 0..bindings.len() {
        if let Some(raw) = bindings.get_mut(at).and_then(|(_, value)| value.take()) {
            let earlier = |name: &str| {
                let latest = names.latest(name)?;
                Some(bindings.get(latest).and_then(|(_, v)| v.as_deref()))
            };
            let value = interpolate(raw, earlier, env);
            if let Some(binding) = bindings.get_mut(at) {
                binding.1 = Some(value);
            }
        }
        if let Some(&(key, _)) = bindings.get(at) {
            names.bound(key, at);
        }
    }
    bindings
}

/// The names `${NAME}` refers to in a parse, each with the position of its latest binding so far.
#[derive(Default)]
struct Names {
    index: KeyIndex,
    /// `(name, latest binding)`, in the order first seen.
    entries: Vec<(String, Option<usize>)>,
    /// Bit `min(length, 63)` set for each name's length in bytes: most keys of a file are no
    /// name's length, and are passed over without hashing.
    lengths: u64,
}

impl Names {
    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn find(&self, name: &str, hash: u32) -> Option<usize> {
        self.index.get(name, hash, |slot| {
            self.entries.get(slot).map(|(n, _)| n.as_str())
        })
    }

    fn length_bit(name: &str) -> u64 {
        1 << name.len().min(63)
    }

    fn add(&mut self, name: &str) {
        let hash = KeyIndex::hash(name);
        if self.find(name, hash).is_none() {
            self.index.insert(hash, self.entries.len());
            self.entries.push((name.to_owned(), None));
            self.lengths |= Self::length_bit(name);
        }
    }

    /// The binding of `key` at `position` is now its latest (when some `${key}` wants it).
    fn bound(&mut self, key: &str, position: usize) {
        if self.lengths & Self::length_bit(key) == 0 {
            return;
        }
        if let Some(slot) = self.find(key, KeyIndex::hash(key))
            && let Some(entry) = self.entries.get_mut(slot)
        {
            entry.1 = Some(position);
        }
    }

    /// The position of the latest binding of `name`, if there was one.
    fn latest(&self, name: &str) -> Option<usize> {
        let slot = self.find(name, KeyIndex::hash(name))?;
        self.entries.get(slot)?.1
    }
}

/// A key and its value, as the parse's list of values holds them (in the order of the Python dict).
type Pair<'a> = (&'a str, Option<Cow<'a, str>>);

/// Where each key sits in the parse's list of values: an open-addressing hash table (FNV-1a, linear
/// probing) holding positions in that list. Lookups and inserts on every line made a `BTreeMap`'s
/// string comparisons most of the time of a large file's parse; std's `HashMap` would add
/// hashbrown and SipHash to the wasm (kilobytes) for what these few lines do.
///
/// Each slot keeps its key's hash: a probe compares strings only when the hashes are equal, and
/// growing never hashes a key again.
#[derive(Default)]
struct KeyIndex {
    /// `(position + 1 in the values list, hash)`; position 0 marks an empty slot. The length is 0 or
    /// a power of two.
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl KeyIndex {
    /// 32-bit FNV-1a.
    fn hash(key: &str) -> u32 {
        let mut h: u32 = 0x811c_9dc5;
        for &b in key.as_bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        h
    }

    /// The position of `key` (whose [`KeyIndex::hash`] is `hash`), where `key_at` gives the key at
    /// a position.
    fn get<'k>(
        &self,
        key: &str,
        hash: u32,
        key_at: impl Fn(usize) -> Option<&'k str>,
    ) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = hash as usize & mask;
        loop {
            let (slot, slot_hash) = *self.slots.get(i)?;
            if slot == 0 {
                return None;
            }
            let position = slot as usize - 1;
            if slot_hash == hash && key_at(position) == Some(key) {
                return Some(position);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that a key not yet present, whose hash is `hash`, sits at `position`.
    fn insert(&mut self, hash: u32, position: usize) {
        if (self.len + 1) * 2 > self.slots.len() {
            let grown = vec![(0, 0); (self.slots.len() * 2).max(16)];
            let old = std::mem::replace(&mut self.slots, grown);
            self.len = 0;
            for (slot, slot_hash) in old.into_iter().filter(|&(s, _)| s != 0) {
                self.place(slot, slot_hash);
            }
        }
        self.place(u32::try_from(position + 1).unwrap_or(u32::MAX), hash);
    }

    fn place(&mut self, slot: u32, hash: u32) {
        let Some(mask) = self.slots.len().checked_sub(1) else {
            return;
        };
        let mut i = hash as usize & mask;
        while let Some(entry) = self.slots.get_mut(i) {
            if entry.0 == 0 {
                *entry = (slot, hash);
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }
}

/// Python's `\s` (and `str.isspace`) for `str` patterns, which is wider than Rust's
/// `char::is_whitespace`: it includes the ASCII separators U+001C..U+001F.
///
/// Inlined with its ASCII test first: the scanners ask it of almost every char of a key (the
/// wasm build is optimised for size, which otherwise leaves it a call per char).
#[inline(always)]
fn is_py_space(c: char) -> bool {
    match c {
        '\t'..='\r' | '\u{1c}'..=' ' => true,
        _ if c.is_ascii() => false,
        _ => is_wide_py_space(c),
    }
}

/// [`is_py_space`] for a char beyond ASCII.
#[inline(never)]
fn is_wide_py_space(c: char) -> bool {
    matches!(
        c,
        '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// `[^\S\r\n]`: whitespace that does not end a line.
#[inline(always)]
fn is_inline_space(c: char) -> bool {
    c != '\n' && c != '\r' && is_py_space(c)
}

/// The end of the run of chars from byte `from` that `keep` accepts.
///
/// The scanners work on bytes: every character the grammar names is ASCII, and the bytes of a
/// multi-byte UTF-8 char are all >= 0x80, so an ASCII byte is always a whole char. Only a non-ASCII
/// char (where Python's wider whitespace may be) is decoded. `from` and the result are char
/// boundaries.
fn run_end(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(&b) = bytes.get(at) {
        if b < 0x80 {
            if !keep(char::from(b)) {
                break;
            }
            at += 1;
        } else {
            match char_at(text, at) {
                Some(c) if keep(c) => at += c.len_utf8(),
                _ => break,
            }
        }
    }
    at
}

/// The char that starts at byte `at` (a char boundary).
fn char_at(text: &str, at: usize) -> Option<char> {
    text.get(at..)?.chars().next()
}

/// `text` without its trailing Python whitespace (`str.rstrip()`).
fn trim_end_py(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = text.len();
    while let Some(&b) = end.checked_sub(1).and_then(|i| bytes.get(i)) {
        if b < 0x80 {
            if !is_py_space(char::from(b)) {
                break;
            }
            end -= 1;
        } else {
            match text.get(..end).and_then(|s| s.chars().next_back()) {
                Some(c) if is_py_space(c) => end -= c.len_utf8(),
                _ => break,
            }
        }
    }
    text.get(..end).unwrap_or(text)
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
            // python-dotenv drops one leading BOM (`str.removeprefix("\ufeff")`); a second one is
            // part of the first key.
            pos: if text.starts_with('\u{feff}') {
                '\u{feff}'.len_utf8()
            } else {
                0
            },
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
        self.pos = run_end(self.text, self.pos, keep);
    }

    /// `[^\r\n]*`
    fn skip_to_line_end(&mut self) {
        self.pos = find_either(self.bytes(), self.pos, b'\n', b'\r').unwrap_or(self.text.len());
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
        let value = if matches!(self.peek_byte(), Some(b'=')) {
            self.pos += 1;
            let after_equals = self.pos;
            self.skip_while(is_inline_space);
            if self.pos > after_equals && matches!(self.peek_byte(), Some(b'#')) {
                // `KEY= #x`: whitespace after `=`, then `#`: no value, the rest is a comment
                // (`KEY=#x` keeps `#x`).
                Some(Cow::Borrowed(""))
            } else {
                Some(self.value()?)
            }
        } else {
            None
        };
        // Optional comment, then the end of the line.
        self.skip_while(is_inline_space);
        if matches!(self.peek_byte(), Some(b'#')) {
            self.skip_to_line_end();
        }
        match self.peek_byte() {
            None => {}
            Some(b'\n') => self.pos += 1,
            Some(b'\r') => {
                self.pos += 1;
                if matches!(self.peek_byte(), Some(b'\n')) {
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
                    decode_escapes(raw, |b| {
                        Some(match b {
                            b'\\' | b'\'' | b'"' => char::from(b),
                            b'a' => '\u{07}',
                            b'b' => '\u{08}',
                            b'f' => '\u{0c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            b'v' => '\u{0b}',
                            _ => return None,
                        })
                    })
                } else {
                    decode_escapes(raw, |b| matches!(b, b'\\' | b'\'').then_some(char::from(b)))
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

    /// A value in `quote`s: python-dotenv's `'((?:\\.|[^'\\])*)'` (and the same with `"`), DOTALL, so
    /// it may span lines. A backslash escapes whatever follows it (a newline, a quote, another
    /// backslash); the value ends at the first quote that is not escaped so. There is no
    /// backtracking: at each char only one alternative of the regex can match.
    ///
    /// The whole parse stays linear: a scan that finds a closing quote is consumed with the value,
    /// and one that finds none is the last of its kind. It read every char to the end of the text
    /// either as itself or as escaped, so no later value can open with that quote (it follows `=`
    /// or whitespace, so it is not escaped, and would have closed this one).
    fn quoted(&mut self, quote: u8) -> Result<&'a str, Unparsable> {
        let bytes = self.bytes();
        let from = self.pos + 1;
        let mut at = from;
        loop {
            match find_either(bytes, at, quote, b'\\') {
                Some(close) if bytes.get(close) == Some(&quote) => {
                    self.pos = close + 1;
                    return Ok(self.text.get(from..close).unwrap_or(""));
                }
                // A backslash: the byte after it is escaped (a byte, not a char: the rest of a
                // multi-byte char is never a quote or a backslash). Past the end, nothing is found.
                Some(backslash) => at = backslash + 2,
                None => return Err(Unparsable),
            }
        }
    }
}

/// The first `byte` at or after `from`.
fn find_byte(bytes: &[u8], from: usize, byte: u8) -> Option<usize> {
    find_either(bytes, from, byte, byte)
}

/// The first `a` or `b` at or after `from`: eight bytes at a time (a wasm32 build has no SIMD, but
/// 64-bit integers), then byte by byte for the tail. Lines of a .env are long enough for this to be
/// most of the scanning.
fn find_either(bytes: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Whether `word` has a zero byte (exact: no false positives when used as a yes/no test).
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let (a_word, b_word) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut at = from;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        if has_zero(word ^ a_word) || has_zero(word ^ b_word) {
            break;
        }
        at += 8;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|&c| c == a || c == b)
        .map(|i| at + i)
}

/// An unquoted value: cut at the first whitespace run followed by `#` (`re.sub(r"\s+#.*", "")`), then
/// strip trailing whitespace. A `#` with no whitespace before it is part of the value.
fn strip_inline_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut end = line.len();
    let mut from = 0;
    // The first `#` right after whitespace; the cut is where that whitespace run starts.
    while let Some(hash) = find_byte(bytes, from, b'#') {
        let before = line.get(..hash).unwrap_or("");
        let run = trim_end_py(before).len();
        if run < hash {
            end = run;
            break;
        }
        from = hash + 1;
    }
    trim_end_py(line.get(..end).unwrap_or(line))
}

#[cfg(test)]
mod tests;
