//! A small EDN reader (nil, booleans, integers, floats, strings, characters, keywords,
//! symbols, vectors, lists, maps, sets, tags, comments, `#_` discards), and Jepsen/Knossos
//! histories made of op maps: `{:type :invoke, :f :cas, :value [1 2], :process 0, :time 12}`.
//!
//! Either one vector (or list) of maps, or one map per line; a vector is read one op map at
//! a time, so each op's errors name its own line. Keywords become strings without the colon;
//! `:process :nemesis` is the nemesis.
//!
//! Elle's list-append and rw-register histories read the same way: `:f :txn` with a
//! vector of micro-ops (`[[:append 3 1] [:r 4 [1 2]]]`) as its value, keywords becoming
//! strings (`["append", 3, 1]`). A transaction whose map has neither `:f` nor `:process`
//! (as in Elle's paper example) belongs to one anonymous process, [`ANONYMOUS_PROCESS`].
//!
//! Read as Knossos means it:
//! - the history is ordered by position: an op's position is its time (`:time` is not used,
//!   and one that goes backwards is only a warning);
//! - an `:ok :read` whose `:value` is `nil` read a value that is not known: it becomes a read
//!   with error [`VALUE_UNKNOWN`], which constrains nothing (Knossos's register models let a
//!   `nil` read match any value).
//!
//! The reader is bounded ([`crate::formats`]): values nest at most [`MAX_DEPTH`] deep (every
//! recursive call counts, tags and `#_` included), one op map takes at most
//! [`MAX_EVENT_BYTES`].

use std::fmt;
use std::io::Read;

use serde_json::{Map, Number, Value};

use crate::error::{shown, HistoryError};
use crate::formats::{ReadError, MAX_DEPTH, MAX_EVENT_BYTES};
use crate::history::{Event, EventKind, History, HistoryBuilder, Process, VALUE_UNKNOWN};

/// An EDN value.
#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A keyword, without its colon.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `[...]`, `(...)` or `#{...}`.
    List(Vec<Edn>),
    /// `{...}`, in source order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value as JSON: keywords and symbols become strings, map keys strings.
    pub fn to_json(&self) -> Value {
        match self {
            Edn::Nil => Value::Null,
            Edn::Bool(b) => Value::Bool(*b),
            Edn::Int(i) => Value::Number((*i).into()),
            Edn::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Edn::Str(s) | Edn::Keyword(s) | Edn::Symbol(s) => Value::String(s.clone()),
            Edn::List(v) => Value::Array(v.iter().map(Edn::to_json).collect()),
            Edn::Map(m) => {
                let mut o = Map::new();
                for (k, v) in m {
                    let k = match k.to_json() {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    o.insert(k, v.to_json());
                }
                Value::Object(o)
            }
        }
    }

    fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(m) => {
                m.iter().find(|(k, _)| matches!(k, Edn::Keyword(s) if s == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

/// Writes EDN that this reader reads back as the same value (tags are not kept).
impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edn::Nil => f.write_str("nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) if x.is_nan() => f.write_str("##NaN"),
            Edn::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "##Inf" } else { "##-Inf" })
            }
            // `{:?}` always has a `.` or an exponent, so it reads back as a float.
            Edn::Float(x) => write!(f, "{x:?}"),
            Edn::Str(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        '\n' => f.write_str("\\n")?,
                        '\t' => f.write_str("\\t")?,
                        '\r' => f.write_str("\\r")?,
                        c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Symbol(s) => f.write_str(s),
            Edn::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Edn::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A parser over text, tracking the line for errors, the nesting depth and the size of the
/// current top-level form.
pub struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
    depth: usize,
    /// Where the current top-level form (an op) started, for [`MAX_EVENT_BYTES`].
    form_start: usize,
}

fn delim(c: u8) -> bool {
    c.is_ascii_whitespace() || b",()[]{}\";".contains(&c)
}

/// Whether a token reads as a number: a digit, or a sign and a digit, first.
fn numeric(t: &str) -> bool {
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    t.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

impl<'a> Parser<'a> {
    /// A parser of `text`.
    pub fn new(text: &'a str) -> Self {
        Parser { s: text.as_bytes(), pos: 0, line: 1, depth: 0, form_start: 0 }
    }

    /// The current line (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    fn err(&self, msg: impl Into<String>) -> HistoryError {
        HistoryError::at(self.line, "-", msg)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                self.line += 1;
                self.pos += 1;
            } else if c.is_ascii_whitespace() || c == b',' {
                self.pos += 1;
            } else if c == b';' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next top-level value, or `None` at the end.
    ///
    /// # Errors
    /// Malformed EDN, with its line; nesting deeper than [`MAX_DEPTH`]; a form of more than
    /// [`MAX_EVENT_BYTES`].
    pub fn next_value(&mut self) -> Result<Option<Edn>, HistoryError> {
        self.skip_ws();
        if self.pos >= self.s.len() {
            return Ok(None);
        }
        self.form_start = self.pos;
        self.value().map(Some)
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|c| !delim(c)) {
            self.pos += 1;
        }
        // The input came from a &str and we only split at ASCII bytes, so this is UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    /// The elements of a collection whose opening byte was consumed, up to `close`.
    fn seq(&mut self, close: u8) -> Result<Vec<Edn>, HistoryError> {
        let open_line = self.line;
        let mut out = Vec::new();
        while let Some(v) = self.element(close, open_line)? {
            out.extend(v);
        }
        Ok(out)
    }

    /// The next element of a collection opened on `open_line`: `Some(None)` for a `#_`
    /// discard, `None` (and the closing byte consumed) at `close`.
    fn element(
        &mut self,
        close: u8,
        open_line: usize,
    ) -> Result<Option<Option<Edn>>, HistoryError> {
        self.skip_ws();
        match self.peek() {
            None => Err(HistoryError::at(
                open_line,
                "-",
                format!("unclosed collection: no '{}' before the end of input", close as char),
            )),
            Some(c) if c == close => {
                self.pos += 1;
                Ok(None)
            }
            Some(_) if self.s[self.pos..].starts_with(b"#_") => {
                self.pos += 2;
                self.value()?;
                Ok(Some(None))
            }
            Some(_) => self.value().map(|v| Some(Some(v))),
        }
    }

    /// One value; every call counts towards [`MAX_DEPTH`].
    fn value(&mut self) -> Result<Edn, HistoryError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!("values nested more than {MAX_DEPTH} deep")));
        }
        self.check_size()?;
        self.depth += 1;
        let v = self.value_here();
        self.depth -= 1;
        let v = v?;
        self.check_size()?;
        Ok(v)
    }

    fn check_size(&self) -> Result<(), HistoryError> {
        if self.pos - self.form_start > MAX_EVENT_BYTES {
            return Err(self.err(format!("one op takes more than {MAX_EVENT_BYTES} bytes")));
        }
        Ok(())
    }

    fn value_here(&mut self) -> Result<Edn, HistoryError> {
        self.skip_ws();
        let Some(c) = self.peek() else {
            return Err(self.err("unexpected end of input"));
        };
        match c {
            b'[' | b'(' => {
                self.pos += 1;
                Ok(Edn::List(self.seq(if c == b'[' { b']' } else { b')' })?))
            }
            b'{' => {
                self.pos += 1;
                let items = self.seq(b'}')?;
                if items.len() % 2 != 0 {
                    return Err(self.err("a map needs an even number of forms"));
                }
                let mut it = items.into_iter();
                let mut m = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    m.push((k, v));
                }
                Ok(Edn::Map(m))
            }
            b'#' => {
                self.pos += 1;
                match self.peek() {
                    Some(b'{') => {
                        self.pos += 1;
                        Ok(Edn::List(self.seq(b'}')?))
                    }
                    Some(b'_') => {
                        self.pos += 1;
                        self.value()?;
                        self.value()
                    }
                    Some(b'#') => {
                        self.pos += 1;
                        match self.token() {
                            "Inf" => Ok(Edn::Float(f64::INFINITY)),
                            "-Inf" => Ok(Edn::Float(f64::NEG_INFINITY)),
                            "NaN" => Ok(Edn::Float(f64::NAN)),
                            other => {
                                Err(self.err(format!("unknown symbolic value ##{}", shown(&other))))
                            }
                        }
                    }
                    _ => {
                        self.token(); // the tag, e.g. #inst: keep the tagged value
                        self.value()
                    }
                }
            }
            b'"' => self.string(),
            b':' => {
                self.pos += 1;
                Ok(Edn::Keyword(self.token().to_string()))
            }
            b'\\' => {
                self.pos += 1;
                let t = self.token();
                if !t.is_empty() {
                    return Ok(Edn::Str(t.to_string()));
                }
                // `\(`, `\ `...: the delimiters are ASCII, so one byte is one character.
                match self.peek() {
                    Some(c) => {
                        self.pos += 1;
                        if c == b'\n' {
                            self.line += 1;
                        }
                        Ok(Edn::Str((c as char).to_string()))
                    }
                    None => Err(self.err("unexpected end of input after '\\'")),
                }
            }
            b')' | b']' | b'}' => Err(self.err(format!("unexpected '{}'", c as char))),
            _ => {
                let t = self.token();
                Ok(match t {
                    "nil" => Edn::Nil,
                    "true" => Edn::Bool(true),
                    "false" => Edn::Bool(false),
                    _ if numeric(t) => {
                        let num = t.strip_suffix(['N', 'M']).unwrap_or(t);
                        if let Ok(i) = num.parse::<i64>() {
                            Edn::Int(i)
                        } else if let Ok(f) = num.parse::<f64>() {
                            Edn::Float(f)
                        } else {
                            Edn::Symbol(t.to_string())
                        }
                    }
                    _ => Edn::Symbol(t.to_string()),
                })
            }
        }
    }

    fn string(&mut self) -> Result<Edn, HistoryError> {
        let start_line = self.line;
        self.pos += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or newline at once; the input is
            // UTF-8 and those are ASCII, so the run is too.
            let run = self.s[self.pos..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c == b'\n')
                .unwrap_or(self.s.len() - self.pos);
            out.push_str(std::str::from_utf8(&self.s[self.pos..self.pos + run]).unwrap_or(""));
            self.pos += run;
            let Some(c) = self.peek() else {
                return Err(HistoryError::at(start_line, "-", "unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\n' => {
                    self.line += 1;
                    out.push('\n');
                }
                _ => {
                    let Some(e) = self.peek() else {
                        return Err(HistoryError::at(start_line, "-", "unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'u' => out.push(self.unicode_escape()?),
                        b'\n' => {
                            self.line += 1;
                            out.push('\n');
                        }
                        // `\"`, `\\` and anything else: the byte itself (ASCII, or the
                        // first byte of a character whose rest the next run copies).
                        e if e.is_ascii() => out.push(e as char),
                        _ => {
                            self.pos -= 1;
                        }
                    }
                }
            }
            self.check_size()?;
        }
        Ok(Edn::Str(out))
    }

    /// The four hex digits after `\u`, as a character (a lone surrogate is an error).
    fn unicode_escape(&mut self) -> Result<char, HistoryError> {
        let hex = self.s.get(self.pos..self.pos + 4).and_then(|h| std::str::from_utf8(h).ok());
        let code = hex
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.err("\\u must be followed by four hex digits"))?;
        self.pos += 4;
        char::from_u32(code).ok_or_else(|| self.err(format!("\\u{code:04x} is not a character")))
    }
}

/// The process of transactions whose op maps name none (see [`op_to_event`]).
pub const ANONYMOUS_PROCESS: u64 = u64::MAX;

/// Whether a value is a transaction: a vector of micro-op vectors, each starting with a
/// keyword (`[[:append 3 1] [:r 4 nil]]`).
fn is_txn_value(v: &Edn) -> bool {
    match v {
        Edn::List(mops) => mops.iter().all(
            |m| matches!(m, Edn::List(parts) if matches!(parts.first(), Some(Edn::Keyword(_)))),
        ),
        _ => false,
    }
}

fn name_of(e: &Edn) -> Option<String> {
    match e {
        Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// Turns one Jepsen op map into an [`Event`]; `pos` is its position (and time), `line` for
/// errors.
///
/// # Errors
/// A missing or malformed `:type`, `:f` or `:process`.
pub fn op_to_event(op: &Edn, pos: u64, line: usize) -> Result<Event, HistoryError> {
    if !matches!(op, Edn::Map(_)) {
        return Err(HistoryError::at(
            line,
            "-",
            format!("expected an op map {{:type .. :f .. :process ..}}, got {}", shown(op)),
        ));
    }
    let kind = match op.get("type") {
        None => return Err(HistoryError::at(line, ":type", "missing")),
        Some(t) => match name_of(t).as_deref() {
            Some("invoke") => EventKind::Invoke,
            Some("ok") => EventKind::Ok,
            Some("fail") => EventKind::Fail,
            Some("info") => EventKind::Info,
            _ => {
                return Err(HistoryError::at(
                    line,
                    ":type",
                    format!("expected :invoke, :ok, :fail or :info, got {}", shown(t)),
                ))
            }
        },
    };
    // Elle's example histories may leave out `:f` and `:process` of transactions run one
    // after another: such an op is a `txn` of one anonymous process.
    let anonymous_txn = op.get("f").is_none()
        && op.get("process").is_none()
        && op.get("value").is_some_and(is_txn_value);
    let f = match op.get("f") {
        None if anonymous_txn => "txn".to_string(),
        f => f
            .and_then(name_of)
            .ok_or_else(|| HistoryError::at(line, ":f", "missing or not a keyword"))?,
    };
    let process = match op.get("process") {
        None if anonymous_txn => Process::Client(ANONYMOUS_PROCESS),
        Some(Edn::Int(p)) if *p >= 0 => Process::Client(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(HistoryError::at(
                line,
                ":process",
                format!("expected a non-negative integer or :nemesis, got {}", shown(other)),
            ))
        }
        None => return Err(HistoryError::at(line, ":process", "missing")),
    };
    let key = match op.get("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Int(i)) => Some(i.to_string()),
        Some(k) => Some(name_of(k).ok_or_else(|| {
            HistoryError::at(
                line,
                ":key",
                format!("expected a string or integer, got {}", shown(k)),
            )
        })?),
    };
    let index = match op.get("index") {
        None => pos,
        Some(Edn::Int(i)) if *i >= 0 => *i as u64,
        Some(other) => {
            return Err(HistoryError::at(
                line,
                ":index",
                format!("expected a non-negative integer, got {}", shown(other)),
            ))
        }
    };
    let value = op.get("value").map_or(Value::Null, Edn::to_json);
    let mut error = op.get("error").map(|e| match e.to_json() {
        Value::String(s) => s,
        other => other.to_string(),
    });
    if kind == EventKind::Ok && f == "read" && value.is_null() && process != Process::Nemesis {
        error = Some(VALUE_UNKNOWN.to_string());
    }
    Ok(Event { index, kind, process, f, key, value, time: pos, error, node: None, term: None })
}

/// Notes `:time`s that go backwards, to warn about once per history.
#[derive(Debug, Default)]
struct Clock {
    last: Option<i64>,
    backwards: usize,
    first: Option<(usize, i64, i64)>,
}

impl Clock {
    fn see(&mut self, op: &Edn, line: usize) {
        let Some(Edn::Int(t)) = op.get("time") else { return };
        if let Some(last) = self.last.filter(|last| t < last) {
            self.backwards += 1;
            self.first.get_or_insert((line, *t, last));
        }
        self.last = Some(*t);
    }

    fn warn(&self) {
        if let Some((line, t, last)) = self.first {
            tracing::warn!(
                times = self.backwards,
                "`:time` goes backwards (first at line {line}: {t} after {last}); the history \
                 is ordered by position, as Knossos orders it, and `:time` is not used"
            );
        }
    }
}

/// Parses a Jepsen/Knossos EDN history held in memory (see [`read_history`]).
///
/// # Errors
/// Malformed EDN or op maps, with the line; the bounds of [`crate::formats`].
pub fn parse_history(text: &str) -> Result<History, HistoryError> {
    read_history(text.as_bytes()).map_err(|e| match e {
        ReadError::Parse(e) => e,
        ReadError::Io(e) => HistoryError::at(0, "-", e.to_string()),
    })
}

/// Bytes read from the input at least at a time.
const CHUNK: usize = 64 << 10;

/// Where the reader is: between top-level forms, or inside the one top-level vector (or
/// list) of ops, which closes with `close` and opened on `line`.
#[derive(Debug, Clone, Copy)]
enum At {
    Top,
    Vector { close: u8, line: usize },
}

/// Reads a Jepsen/Knossos EDN history from a stream: ops in order of position, each at its
/// line. Memory stays bounded whatever the input: one op at a time is held (at most
/// [`MAX_EVENT_BYTES`] of it) besides the history built so far.
///
/// Each op is parsed from a window of the input; when the window ends inside the op (an
/// unclosed map, a string or token cut at its end) the window grows — doubling, so an op is
/// parsed O(log size) times — and the op is parsed again.
///
/// # Errors
/// I/O; malformed EDN or op maps, with the line; the bounds of [`crate::formats`].
pub fn read_history<R: Read>(mut input: R) -> Result<History, ReadError> {
    let mut history = Ops::default();
    let mut buf: Vec<u8> = Vec::new();
    let (mut start, mut line, mut eof, mut at) = (0usize, 1usize, false, At::Top);
    loop {
        let window = &buf[start..];
        let text = match std::str::from_utf8(window) {
            Ok(t) => t,
            // A character cut at the window's end: read on.
            Err(e) if e.error_len().is_none() && !eof => {
                // Safe: valid_up_to is a character boundary.
                std::str::from_utf8(&window[..e.valid_up_to()]).unwrap_or("")
            }
            Err(_) => {
                let e = super::lines::utf8(window).err();
                let e = e.map(|e| HistoryError::at(line + e.line - 1, "-", e.message));
                return Err(ReadError::Parse(
                    e.unwrap_or_else(|| HistoryError::at(line, "-", "not UTF-8")),
                ));
            }
        };
        let mut p = Parser::new(text);
        p.line = line;
        p.skip_ws();
        if p.pos == text.len() {
            if !eof {
                // Only blanks and comments so far: drop them, keeping a `;` when the window
                // ends inside a comment, so that its rest is skipped too.
                let tail = text.rfind('\n').map_or(text, |nl| &text[nl + 1..]);
                let in_comment = tail.contains(';');
                start += text.len();
                line = p.line();
                if in_comment {
                    start -= 1;
                    buf[start] = b';';
                }
                eof = fill(&mut input, &mut buf, &mut start, CHUNK)?;
                continue;
            }
            if let At::Vector { close, line } = at {
                return Err(ReadError::Parse(HistoryError::at(
                    line,
                    "-",
                    format!("unclosed collection: no '{}' before the end of input", close as char),
                )));
            }
            break;
        }
        let op_line = p.line();
        p.form_start = p.pos;
        // What was read (an op or nothing) and where the reader is after it.
        let parsed: Result<(Option<Edn>, At), HistoryError> = match at {
            At::Top => match p.peek() {
                // A vector (or list) of ops: read one op at a time.
                Some(open @ (b'[' | b'(')) => {
                    p.pos += 1;
                    let close = if open == b'[' { b']' } else { b')' };
                    Ok((None, At::Vector { close, line: op_line }))
                }
                _ => p.value().map(|op| (Some(op), At::Top)),
            },
            At::Vector { close, line } => {
                p.depth = 1;
                p.element(close, line).map(|e| match e {
                    None => (None, At::Top),
                    Some(op) => (op, at),
                })
            }
        };
        // The op may go on past the window (a token cut at its end, an unclosed map, a
        // string): read more and parse it again, unless it already is too big.
        if !eof && (parsed.is_err() || p.pos == text.len()) {
            if buf.len() - start > MAX_EVENT_BYTES + CHUNK {
                return Err(ReadError::Parse(parsed.err().unwrap_or_else(|| {
                    p.err(format!("one op takes more than {MAX_EVENT_BYTES} bytes"))
                })));
            }
            let grow = (buf.len() - start).max(CHUNK);
            eof = fill(&mut input, &mut buf, &mut start, grow)?;
            continue;
        }
        let (op, next) = parsed?;
        if let Some(op) = op {
            history.push(&op, op_line)?;
        }
        at = next;
        start += p.pos;
        line = p.line();
    }
    Ok(history.finish())
}

/// Reads at least `want` more bytes into `buf` (fewer at the end of input), first dropping
/// the consumed `buf[..start]` once it is most of the buffer; `true` at the end of input.
fn fill<R: Read>(
    input: &mut R,
    buf: &mut Vec<u8>,
    start: &mut usize,
    want: usize,
) -> Result<bool, ReadError> {
    if *start > 0 && *start >= buf.len() / 2 {
        buf.drain(..*start);
        *start = 0;
    }
    let target = buf.len() + want;
    while buf.len() < target {
        let n = input
            .by_ref()
            .take((target - buf.len()) as u64)
            .read_to_end(buf)
            .map_err(ReadError::Io)?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The ops read so far, by position.
#[derive(Default)]
struct Ops {
    builder: HistoryBuilder,
    pos: u64,
    clock: Clock,
}

impl Ops {
    fn push(&mut self, op: &Edn, line: usize) -> Result<(), HistoryError> {
        self.clock.see(op, line);
        let event = op_to_event(op, self.pos, line)?;
        self.builder.push(line, event)?;
        self.pos += 1;
        Ok(())
    }

    fn finish(self) -> History {
        self.clock.warn();
        self.builder.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Outcome;

    #[test]
    fn reads_a_vector_of_knossos_ops() {
        let h = parse_history(
            "[{:type :invoke, :f :cas, :value [1 2], :process 0, :time 5}\n\
             {:type :info, :f :start, :process :nemesis, :value nil}\n\
             {:type :ok, :f :cas, :value [1 2], :process 0, :time 9} ; done\n]",
        )
        .unwrap();
        assert_eq!(h.ops.len(), 1);
        assert_eq!(h.ops[0].outcome, Outcome::Ok);
        assert_eq!(h.ops[0].input, serde_json::json!([1, 2]));
        // Ordered by position, as Knossos: `:time` is not used.
        assert_eq!((h.ops[0].call, h.ops[0].ret), (0, Some(2)));
        assert_eq!(h.nemesis.len(), 1);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for open in ["[", "(", "{", "#{", "#_", "#tag ", "#_ #_"] {
            let text = open.repeat(200_000);
            let e = parse_history(&text).unwrap_err();
            assert!(e.message.contains("nested more than 128 deep"), "{open}: {e}");
            assert_eq!(e.line, 1);
        }
        // Within the limit, nesting is fine.
        let ok = format!(
            "{{:type :invoke, :f :write, :process 0, :value {}1{}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        parse_history(&ok).unwrap();
    }

    #[test]
    fn a_huge_op_is_an_error() {
        let text = format!(
            "[{{:type :invoke, :f :write, :process 0, :value \"{}\"}}]",
            "x".repeat(crate::formats::MAX_EVENT_BYTES + 1)
        );
        let e = parse_history(&text).unwrap_err();
        assert!(e.message.contains("more than"), "{e}");
        assert!(e.to_string().len() < 1000);
    }

    #[test]
    fn errors_in_a_vector_name_the_line_of_the_op() {
        let text = "[{:type :invoke, :f :read, :process 0}\n\
                    {:type :ok, :f :read, :process 0, :value 1}\n\
                    \n\
                    {:type :invoke, :f :write, :process :bogus}]";
        let e = parse_history(text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (4, ":process"), "{e}");
        let e = parse_history("[{:type :invoke, :f :read, :process 0}\n{:type :ok").unwrap_err();
        assert_eq!(e.line, 2, "an unclosed map names its opening line: {e}");
        let e = parse_history("\n[{:type :invoke, :f :read, :process 0}\n").unwrap_err();
        assert_eq!(e.line, 2, "an unclosed vector names its opening line: {e}");
        assert!(e.message.contains("no ']'"), "{e}");
    }

    #[test]
    fn time_going_backwards_is_not_an_error() {
        let h = parse_history(
            "{:type :invoke, :f :write, :value 1, :process 0, :time 50}\n\
             {:type :ok, :f :write, :value 1, :process 0, :time 10}\n\
             {:type :invoke, :f :read, :value nil, :process 0, :time 30}\n\
             {:type :ok, :f :read, :value 1, :process 0, :time 20}\n",
        )
        .unwrap();
        assert_eq!(h.ops.len(), 2);
        assert!(h.ops[0].ret < Some(h.ops[1].call), "position order kept");
    }

    #[test]
    fn an_ok_nil_read_has_an_unknown_value() {
        let h = parse_history(
            "{:type :invoke, :f :read, :value nil, :process 0}\n\
             {:type :ok, :f :read, :value nil, :process 0}\n\
             {:type :invoke, :f :read, :value nil, :process 0}\n\
             {:type :ok, :f :read, :value 3, :process 0}\n",
        )
        .unwrap();
        assert_eq!(h.ops[0].error.as_deref(), Some(VALUE_UNKNOWN));
        assert_eq!(h.ops[0].outcome, Outcome::Ok);
        assert_eq!(h.ops[1].error, None);
    }

    #[test]
    fn values_print_as_edn_that_reads_back() {
        let text = r#"[nil true -3 2.5 1e300 ##Inf ##NaN "a\"b\n\u00e9\u0001" :k sym #{1 2}
                       {:a [1 (2)]} #inst "2020" \x \( #_ 9 99999999999999999999N]"#;
        let v = Parser::new(text).next_value().unwrap().unwrap();
        let printed = v.to_string();
        let again = Parser::new(&printed).next_value().unwrap().unwrap();
        assert_eq!(again.to_string(), printed);
        assert_eq!(
            printed,
            "[nil true -3 2.5 1e300 ##Inf ##NaN \"a\\\"b\\né\\u0001\" :k sym [1 2] {:a [1 [2]]} \"2020\" \"x\" \"(\" 1e20]"
        );
        // Words that Rust's float parser takes are symbols in EDN.
        assert_eq!(Parser::new("nan").next_value().unwrap(), Some(Edn::Symbol("nan".into())));
        assert_eq!(Parser::new("inf").next_value().unwrap(), Some(Edn::Symbol("inf".into())));
    }

    #[test]
    fn reads_one_map_per_line_with_keys() {
        let h = parse_history(
            "{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n\
             {:process 0, :type :ok, :f :get, :key \"3\", :value \"x 0 1 y\"}\n",
        )
        .unwrap();
        assert_eq!(h.ops[0].key.as_deref(), Some("3"));
        assert_eq!(h.ops[0].output, serde_json::json!("x 0 1 y"));
    }

    #[test]
    fn reads_transactions_and_elle_anonymous_ones() {
        let h = parse_history(
            "{:type :invoke, :f :txn, :value [[:append 3 1] [:r 4 nil]], :process 0, :index 5}\n\
             {:type :ok, :f :txn, :value [[:append 3 1] [:r 4 [1 2]]], :process 0, :index 6}\n\
             {:index 7 :type :invoke :value [[:r :x nil]]}\n\
             {:index 8 :type :ok :value [[:r :x [\"a\"]]]}\n",
        )
        .unwrap();
        assert_eq!(h.ops[0].output, serde_json::json!([["append", 3, 1], ["r", 4, [1, 2]]]));
        assert_eq!((h.ops[1].f.as_str(), h.ops[1].process), ("txn", ANONYMOUS_PROCESS));
        assert_eq!(h.ops[1].output, serde_json::json!([["r", "x", ["a"]]]));
        // Only transactions may leave `:f` and `:process` out.
        let e = parse_history("{:index 7 :type :invoke :value 3}").unwrap_err();
        assert_eq!(e.field, ":f");
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse_history(
            "{:type :invoke, :f :read, :process 0}\n{:type :bogus, :f :read, :process 0}",
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, ":type"));
        let e = parse_history("{:type :invoke, :f :read}").unwrap_err();
        assert_eq!(e.field, ":process");
        let e = parse_history("[{:type :invoke").unwrap_err();
        assert!(e.message.contains("unclosed"), "{e}");
    }
}
