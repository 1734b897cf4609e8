//! A small EDN reader (nil, booleans, integers, floats, strings, characters, keywords,
//! symbols, vectors, lists, maps, sets, tags, comments, `#_` discards), and Jepsen/Knossos
//! histories made of op maps: `{:type :invoke, :f :cas, :value [1 2], :process 0, :time 12}`.
//!
//! Either one vector (or list) of maps, or one map per line. Keywords become strings without
//! the colon; `:process :nemesis` is the nemesis; without `:time`, an op's position is its time.

use serde_json::{Map, Number, Value};

use crate::error::HistoryError;
use crate::history::{Event, EventKind, History, HistoryBuilder, Process};

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

/// A parser over text, tracking the line for errors.
pub struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

fn delim(c: u8) -> bool {
    c.is_ascii_whitespace() || b",()[]{}\";".contains(&c)
}

impl<'a> Parser<'a> {
    /// A parser of `text`.
    pub fn new(text: &'a str) -> Self {
        Parser { s: text.as_bytes(), pos: 0, line: 1 }
    }

    /// The current line (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    fn err(&self, msg: impl Into<String>) -> HistoryError {
        HistoryError::at(self.line, "-", msg)
    }

    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.pos) {
            if c == b'\n' {
                self.line += 1;
                self.pos += 1;
            } else if c.is_ascii_whitespace() || c == b',' {
                self.pos += 1;
            } else if c == b';' {
                while self.s.get(self.pos).is_some_and(|&c| c != b'\n') {
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
    /// Malformed EDN, with its line.
    pub fn next_value(&mut self) -> Result<Option<Edn>, HistoryError> {
        self.skip_ws();
        if self.pos >= self.s.len() {
            return Ok(None);
        }
        self.value().map(Some)
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|&c| !delim(c)) {
            self.pos += 1;
        }
        // The input came from a &str and we only split at ASCII bytes, so this is UTF-8.
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn seq(&mut self, close: u8) -> Result<Vec<Edn>, HistoryError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.pos) {
                None => {
                    return Err(
                        self.err(format!("unclosed collection: expected '{}'", close as char))
                    )
                }
                Some(&c) if c == close => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    if let Some(v) = self.value_or_discard()? {
                        out.push(v);
                    }
                }
            }
        }
    }

    fn value_or_discard(&mut self) -> Result<Option<Edn>, HistoryError> {
        if self.s[self.pos..].starts_with(b"#_") {
            self.pos += 2;
            self.skip_ws();
            self.value()?;
            return Ok(None);
        }
        self.value().map(Some)
    }

    fn value(&mut self) -> Result<Edn, HistoryError> {
        self.skip_ws();
        let Some(&c) = self.s.get(self.pos) else {
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
                match self.s.get(self.pos) {
                    Some(b'{') => {
                        self.pos += 1;
                        Ok(Edn::List(self.seq(b'}')?))
                    }
                    Some(b'_') => {
                        self.pos += 1;
                        self.value()?;
                        self.value()
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
                Ok(Edn::Str(if t.is_empty() {
                    let c = self.s.get(self.pos).copied().unwrap_or(b' ');
                    self.pos += 1;
                    (c as char).to_string()
                } else {
                    t.to_string()
                }))
            }
            b')' | b']' | b'}' => Err(self.err(format!("unexpected '{}'", c as char))),
            _ => {
                let t = self.token();
                Ok(match t {
                    "nil" => Edn::Nil,
                    "true" => Edn::Bool(true),
                    "false" => Edn::Bool(false),
                    _ => {
                        let num = t.trim_end_matches(['N', 'M']);
                        if let Ok(i) = num.parse::<i64>() {
                            Edn::Int(i)
                        } else if let Ok(f) = num.parse::<f64>() {
                            Edn::Float(f)
                        } else {
                            Edn::Symbol(t.to_string())
                        }
                    }
                })
            }
        }
    }

    fn string(&mut self) -> Result<Edn, HistoryError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.s.get(self.pos).copied().unwrap_or(b'\\');
                    self.pos += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                b'\n' => {
                    self.line += 1;
                    out.push(c);
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map(Edn::Str).map_err(|_| self.err("string is not UTF-8"))
    }
}

fn name_of(e: &Edn) -> Option<String> {
    match e {
        Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// Turns one Jepsen op map into an [`Event`]; `pos` is its position, `line` for errors.
///
/// # Errors
/// A missing or malformed `:type`, `:f` or `:process`.
pub fn op_to_event(op: &Edn, pos: u64, line: usize) -> Result<Event, HistoryError> {
    if !matches!(op, Edn::Map(_)) {
        return Err(HistoryError::at(line, "-", "expected an op map {:type .. :f .. :process ..}"));
    }
    let kind = match op.get("type").and_then(name_of).as_deref() {
        Some("invoke") => EventKind::Invoke,
        Some("ok") => EventKind::Ok,
        Some("fail") => EventKind::Fail,
        Some("info") => EventKind::Info,
        Some(other) => {
            return Err(HistoryError::at(line, ":type", format!("unknown type :{other}")))
        }
        None => return Err(HistoryError::at(line, ":type", "missing")),
    };
    let f = op
        .get("f")
        .and_then(name_of)
        .ok_or_else(|| HistoryError::at(line, ":f", "missing or not a keyword"))?;
    let process = match op.get("process") {
        Some(Edn::Int(p)) if *p >= 0 => Process::Client(*p as u64),
        Some(Edn::Keyword(k)) if k == "nemesis" => Process::Nemesis,
        Some(other) => {
            return Err(HistoryError::at(
                line,
                ":process",
                format!("expected a non-negative integer or :nemesis, got {other:?}"),
            ))
        }
        None => return Err(HistoryError::at(line, ":process", "missing")),
    };
    let key = match op.get("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Int(i)) => Some(i.to_string()),
        Some(k) => Some(name_of(k).ok_or_else(|| {
            HistoryError::at(line, ":key", format!("expected a string or integer, got {k:?}"))
        })?),
    };
    let time = match op.get("time") {
        Some(Edn::Int(t)) if *t >= 0 => *t as u64,
        _ => pos,
    };
    let index = match op.get("index") {
        Some(Edn::Int(i)) if *i >= 0 => *i as u64,
        _ => pos,
    };
    let value = op.get("value").map_or(Value::Null, Edn::to_json);
    let error = op.get("error").map(|e| match e.to_json() {
        Value::String(s) => s,
        other => other.to_string(),
    });
    Ok(Event { index, kind, process, f, key, value, time, error, node: None, term: None })
}

/// Parses a Jepsen/Knossos EDN history.
///
/// Times: `:time` where given; an op without one takes the previous op's time; when no op
/// has one, positions are the times (as Porcupine uses event indices).
///
/// # Errors
/// Malformed EDN or op maps, with the line.
pub fn parse_history(text: &str) -> Result<History, HistoryError> {
    let mut p = Parser::new(text);
    let mut maps: Vec<(Edn, usize)> = Vec::new();
    loop {
        p.skip_ws();
        let line = p.line();
        let Some(v) = p.next_value()? else { break };
        match v {
            Edn::List(items) => maps.extend(items.into_iter().map(|i| (i, line))),
            v => maps.push((v, line)),
        }
    }
    let timed = maps.iter().any(|(m, _)| matches!(m.get("time"), Some(Edn::Int(_))));
    let mut builder = HistoryBuilder::default();
    let mut last_time = 0u64;
    for (pos, (m, line)) in maps.iter().enumerate() {
        let mut e = op_to_event(m, pos as u64, *line)?;
        if timed && !matches!(m.get("time"), Some(Edn::Int(t)) if *t >= 0) {
            e.time = last_time;
        }
        last_time = e.time;
        builder.push(*line, e)?;
    }
    Ok(builder.finish())
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
        assert_eq!((h.ops[0].call, h.ops[0].ret), (5, Some(9)));
        assert_eq!(h.nemesis.len(), 1);
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
