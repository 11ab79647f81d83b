//! A small TOML 1.1 reader, written for the config file (measured: the `toml` crate, even its
//! low-level `toml_parser`, would add 14-28 KB gzip to the wasm). It checks the whole grammar and
//! the table rules, but keeps only what config needs: strings, integers and booleans by value, the
//! other kinds by type.

mod scalars;

pub(crate) use scalars::integer;
use scalars::{is_datetime, number};

/// Deeper nesting is refused, so nothing recurses without bound (toml-test suggests 128).
const MAX_DEPTH: usize = 128;

pub(crate) enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    Float,
    DateTime,
    Array,
    Table(Table),
    /// An array of tables (`[[name]]`).
    Tables(Vec<Table>),
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Str(_) => "a string",
            Val::Int(_) => "an integer",
            Val::Bool(_) => "a boolean",
            Val::Float => "a float",
            Val::DateTime => "a date-time",
            Val::Array | Val::Tables(_) => "an array",
            Val::Table(_) => "a table",
        }
    }
}

/// How a table came to be, which decides what may still add to it.
#[derive(Clone, Copy, Default, PartialEq)]
enum Kind {
    /// Created on the way to a `[a.b]` header; a later `[a]` may still define it.
    #[default]
    Implicit,
    /// Defined by its own header: defining it again is an error.
    Header,
    /// Created by a dotted key: more dotted keys may extend it, a header may not define it.
    Dotted,
    /// `{...}`: complete as written.
    Inline,
}

#[derive(Default)]
pub(crate) struct Table {
    /// In file order; linear lookup (config files are small).
    pub(crate) items: Vec<(String, Val)>,
    kind: Kind,
}

impl Table {
    fn new(kind: Kind) -> Table {
        Table {
            items: Vec::new(),
            kind,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Val> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Val> {
        self.items
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The value at `key`, created by `make` if missing.
    fn entry(&mut self, key: &str, make: impl FnOnce() -> Val) -> &mut Val {
        let i = match self.items.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.items.push((key.to_owned(), make()));
                self.items.len() - 1
            }
        };
        &mut self.items[i].1
    }
}

/// Where and what, never the text found there.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    /// In characters, from 1.
    pub(crate) column: usize,
    pub(crate) what: &'static str,
}

/// A failure at a byte offset, turned into line and column by [`parse`].
struct Fail {
    at: usize,
    what: &'static str,
}

type Parsed<T> = Result<T, Fail>;

fn fail<T>(at: usize, what: &'static str) -> Parsed<T> {
    Err(Fail { at, what })
}

/// A key as written: its dotted parts, each with its offset.
type Key = Vec<(String, usize)>;

pub(crate) fn parse(text: &str) -> Result<Table, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        src: text,
        b: text.as_bytes(),
        i: 0,
    };
    p.document().map_err(|f| {
        let before = &p.b[..f.at.min(p.b.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        SyntaxError {
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            column: before[line_start..]
                .iter()
                .filter(|&&b| b & 0xC0 != 0x80)
                .count()
                + 1,
            what: f.what,
        }
    })
}

/// Control characters TOML allows in no string or comment (tab is allowed).
fn is_control(c: u8) -> bool {
    (c < 0x20 && c != b'\t') || c == 0x7f
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn peek_at(&self, n: usize) -> Option<u8> {
        self.b.get(self.i + n).copied()
    }

    fn starts(&self, s: &[u8]) -> bool {
        self.b.get(self.i..).is_some_and(|rest| rest.starts_with(s))
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn newline(&mut self) -> bool {
        if self.eat(b'\n') {
            true
        } else if self.starts(b"\r\n") {
            self.i += 2;
            true
        } else {
            false
        }
    }

    fn comment(&mut self) -> Parsed<()> {
        if self.eat(b'#') {
            while let Some(c) = self.peek() {
                if c == b'\n' || self.starts(b"\r\n") {
                    break;
                }
                if is_control(c) {
                    return fail(self.i, "control character in a comment");
                }
                self.i += 1;
            }
        }
        Ok(())
    }

    /// Spaces, comments and newlines, as allowed inside arrays and inline tables.
    fn blank(&mut self) -> Parsed<()> {
        loop {
            self.ws();
            self.comment()?;
            if !self.newline() {
                return Ok(());
            }
        }
    }

    fn end_of_line(&mut self) -> Parsed<()> {
        self.ws();
        self.comment()?;
        if self.i >= self.b.len() || self.newline() {
            Ok(())
        } else {
            fail(self.i, "expected the end of the line")
        }
    }

    fn document(&mut self) -> Parsed<Table> {
        let mut root = Table::new(Kind::Header);
        // The path of the table that key/value lines go into (the last element of arrays).
        let mut current: Vec<String> = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                None => return Ok(root),
                Some(b'#' | b'\n' | b'\r') => {}
                Some(b'[') => {
                    let array = self.starts(b"[[");
                    self.i += if array { 2 } else { 1 };
                    let key = self.key()?;
                    let close: &[u8] = if array { b"]]" } else { b"]" };
                    if !self.starts(close) {
                        return fail(self.i, "expected `]` to end the table header");
                    }
                    self.i += close.len();
                    if key.len() > MAX_DEPTH {
                        return fail(key[0].1, "tables nested too deeply");
                    }
                    open_table(&mut root, &key, array)?;
                    current = key.into_iter().map(|(k, _)| k).collect();
                }
                Some(_) => {
                    let at = self.i;
                    let (key, value) = self.key_value(current.len())?;
                    let table = walk(&mut root, &current).ok_or(Fail {
                        at,
                        what: "key is not a table",
                    })?;
                    insert(table, &key, value)?;
                }
            }
            self.end_of_line()?;
        }
    }

    /// `key = value`, whose tables start `depth` levels down.
    fn key_value(&mut self, depth: usize) -> Parsed<(Key, Val)> {
        let key = self.key()?;
        if !self.eat(b'=') {
            return fail(self.i, "expected `=` after a key");
        }
        self.ws();
        let depth = depth + key.len();
        if depth > MAX_DEPTH {
            return fail(key[0].1, "tables nested too deeply");
        }
        Ok((key, self.value(depth)?))
    }

    /// A dotted key, with the spaces around its parts.
    fn key(&mut self) -> Parsed<Key> {
        let mut parts = Vec::new();
        loop {
            self.ws();
            let at = self.i;
            let part = match self.peek() {
                Some(q @ (b'"' | b'\'')) => {
                    if self.starts(&[q, q, q]) {
                        return fail(at, "a key cannot be a multi-line string");
                    }
                    self.string()?
                }
                _ => {
                    while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                    {
                        self.i += 1;
                    }
                    if self.i == at {
                        return fail(at, "expected a key");
                    }
                    self.src[at..self.i].to_owned()
                }
            };
            parts.push((part, at));
            self.ws();
            if !self.eat(b'.') {
                return Ok(parts);
            }
        }
    }

    fn value(&mut self, depth: usize) -> Parsed<Val> {
        match self.peek() {
            Some(b'"' | b'\'') => self.string().map(Val::Str),
            Some(b'[') => self.array(depth + 1),
            Some(b'{') => self.inline_table(depth + 1),
            Some(b't') if self.starts(b"true") => {
                self.i += 4;
                Ok(Val::Bool(true))
            }
            Some(b'f') if self.starts(b"false") => {
                self.i += 5;
                Ok(Val::Bool(false))
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'i' | b'n') => {
                self.number_or_date()
            }
            _ => fail(self.i, "expected a value"),
        }
    }

    fn array(&mut self, depth: usize) -> Parsed<Val> {
        if depth > MAX_DEPTH {
            return fail(self.i, "values nested too deeply");
        }
        self.i += 1;
        loop {
            self.blank()?;
            if self.eat(b']') {
                return Ok(Val::Array);
            }
            self.value(depth)?;
            self.blank()?;
            if self.eat(b']') {
                return Ok(Val::Array);
            }
            if !self.eat(b',') {
                return fail(self.i, "expected `,` or `]` in an array");
            }
        }
    }

    /// TOML 1.1: newlines, comments and a trailing comma are allowed inside the braces.
    fn inline_table(&mut self, depth: usize) -> Parsed<Val> {
        if depth > MAX_DEPTH {
            return fail(self.i, "values nested too deeply");
        }
        self.i += 1;
        let mut table = Table::new(Kind::Inline);
        loop {
            self.blank()?;
            if self.eat(b'}') {
                return Ok(Val::Table(table));
            }
            let (key, value) = self.key_value(depth)?;
            insert(&mut table, &key, value)?;
            self.blank()?;
            if self.eat(b'}') {
                return Ok(Val::Table(table));
            }
            if !self.eat(b',') {
                return fail(self.i, "expected `,` or `}` in an inline table");
            }
        }
    }

    /// All four kinds of string, at the opening quote. Stops only at ASCII bytes, so every
    /// slice taken is whole UTF-8.
    fn string(&mut self) -> Parsed<String> {
        let quote = self.b[self.i];
        let literal = quote == b'\'';
        let multi = self.starts(&[quote, quote, quote]);
        let start = self.i;
        self.i += if multi { 3 } else { 1 };
        if multi {
            self.newline();
        }
        let mut out = String::new();
        loop {
            let run = self.i;
            while let Some(c) = self.peek() {
                if c == quote || (c == b'\\' && !literal) || is_control(c) {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.src[run..self.i]);
            match self.peek() {
                None => return fail(start, "unterminated string"),
                Some(c) if c == quote => {
                    if !multi {
                        self.i += 1;
                        return Ok(out);
                    }
                    let mut n = 0;
                    while self.peek_at(n) == Some(quote) {
                        n += 1;
                    }
                    if n < 3 {
                        out.push(quote as char);
                        self.i += 1;
                    } else if n <= 5 {
                        // Up to two quotes just before the closing three are content.
                        for _ in 3..n {
                            out.push(quote as char);
                        }
                        self.i += n;
                        return Ok(out);
                    } else {
                        return fail(self.i, "too many quotes in a multi-line string");
                    }
                }
                Some(b'\\') => self.escape(&mut out, multi)?,
                Some(b'\n') if multi => {
                    out.push('\n');
                    self.i += 1;
                }
                Some(b'\r') if multi && self.peek_at(1) == Some(b'\n') => {
                    out.push('\n');
                    self.i += 2;
                }
                Some(b'\n' | b'\r') => return fail(start, "unterminated string"),
                Some(_) => return fail(self.i, "control character in a string"),
            }
        }
    }

    fn escape(&mut self, out: &mut String, multi: bool) -> Parsed<()> {
        let at = self.i;
        self.i += 1;
        let simple = match self.peek() {
            Some(b'b') => Some('\u{8}'),
            Some(b't') => Some('\t'),
            Some(b'n') => Some('\n'),
            Some(b'f') => Some('\u{c}'),
            Some(b'r') => Some('\r'),
            Some(b'e') => Some('\u{1b}'),
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            _ => None,
        };
        if let Some(c) = simple {
            self.i += 1;
            out.push(c);
            return Ok(());
        }
        let digits = match self.peek() {
            Some(b'x') => 2,
            Some(b'u') => 4,
            Some(b'U') => 8,
            Some(b' ' | b'\t' | b'\n' | b'\r') if multi => {
                // A backslash ending a line drops the newline and the blanks that follow.
                self.ws();
                if !self.newline() {
                    return fail(at, "invalid escape sequence");
                }
                loop {
                    self.ws();
                    if !self.newline() {
                        return Ok(());
                    }
                }
            }
            _ => return fail(at, "invalid escape sequence"),
        };
        let hex = self.b.get(self.i + 1..self.i + 1 + digits);
        let code = hex
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| {
                h.iter()
                    .try_fold(0u32, |n, &c| Some(n * 16 + (c as char).to_digit(16)?))
            });
        match code.and_then(char::from_u32) {
            Some(c) => {
                out.push(c);
                self.i += 1 + digits;
                Ok(())
            }
            None => fail(at, "invalid escape sequence"),
        }
    }

    fn number_or_date(&mut self) -> Parsed<Val> {
        let start = self.i;
        let in_token =
            |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'+' | b'-' | b'.' | b':');
        while self.peek().is_some_and(in_token) {
            self.i += 1;
            // A date, a space, then a time is one date-time.
            if self.i - start == 10
                && self.b[start + 4] == b'-'
                && self.peek() == Some(b' ')
                && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                && self.peek_at(2).is_some_and(|c| c.is_ascii_digit())
                && self.peek_at(3) == Some(b':')
            {
                self.i += 1;
            }
        }
        let token = &self.b[start..self.i];
        if is_datetime(token) {
            return Ok(Val::DateTime);
        }
        number(token).ok_or(Fail {
            at: start,
            what: "invalid number or date-time",
        })
    }
}

/// Follows `path` from the root to the table that key/values go into.
fn walk<'t>(root: &'t mut Table, path: &[String]) -> Option<&'t mut Table> {
    let mut table = root;
    for key in path {
        table = match table.get_mut(key)? {
            Val::Table(sub) => sub,
            Val::Tables(list) => list.last_mut()?,
            _ => return None,
        };
    }
    Some(table)
}

/// `[a.b]` or `[[a.b]]`: makes the table (or a new element) that the following lines fill.
fn open_table(root: &mut Table, key: &Key, array: bool) -> Parsed<()> {
    let Some(((last, last_at), parents)) = key.split_last() else {
        return Ok(());
    };
    let mut table = root;
    for (part, at) in parents {
        table = match table.entry(part, || Val::Table(Table::new(Kind::Implicit))) {
            Val::Table(sub) if sub.kind != Kind::Inline => sub,
            Val::Tables(list) => match list.last_mut() {
                Some(sub) => sub,
                None => return fail(*at, "key is not a table"),
            },
            _ => return fail(*at, "key is not a table"),
        };
    }
    let fresh = || {
        if array {
            Val::Tables(Vec::new())
        } else {
            Val::Table(Table::new(Kind::Implicit))
        }
    };
    match (table.entry(last, fresh), array) {
        (Val::Table(sub), false) if sub.kind == Kind::Implicit => sub.kind = Kind::Header,
        (Val::Tables(list), true) => list.push(Table::new(Kind::Header)),
        _ => return fail(*last_at, "table defined twice"),
    }
    Ok(())
}

/// `a.b.c = value` into `table`: dotted keys may create tables, extend ones they created, or
/// pass through ones a header created on its way (which then count as dotted, as in `toml`).
fn insert(table: &mut Table, key: &Key, value: Val) -> Parsed<()> {
    let Some(((last, last_at), parents)) = key.split_last() else {
        return Ok(());
    };
    let mut table = table;
    for (part, at) in parents {
        table = match table.entry(part, || Val::Table(Table::new(Kind::Dotted))) {
            Val::Table(sub) if matches!(sub.kind, Kind::Dotted | Kind::Implicit) => {
                sub.kind = Kind::Dotted;
                sub
            }
            _ => return fail(*at, "a dotted key cannot add to this key"),
        };
    }
    if table.get(last).is_some() {
        return fail(*last_at, "duplicate key");
    }
    table.items.push((last.clone(), value));
    Ok(())
}
