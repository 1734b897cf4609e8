//! Bounded line reading for the line-based formats (JSONL, Porcupine's log): a line longer
//! than [`MAX_EVENT_BYTES`] is an error naming its line, found after reading at most that
//! many bytes of it, so a file without newlines cannot make a reader hold it whole.

use std::io::{BufRead, Read};

use crate::error::HistoryError;
use crate::formats::{ReadError, MAX_EVENT_BYTES};

/// The lines of an input, numbered from 1, each checked for length and UTF-8.
#[derive(Debug)]
pub struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    number: usize,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `input`.
    pub fn new(input: R) -> Self {
        Lines { input, buf: Vec::new(), number: 0 }
    }

    /// The next line (without its line break) and its number, or `None` at the end.
    ///
    /// # Errors
    /// I/O errors; a line longer than [`MAX_EVENT_BYTES`] or not UTF-8 (naming the line).
    pub fn next_line(&mut self) -> Result<Option<(usize, &str)>, ReadError> {
        self.buf.clear();
        let limit = MAX_EVENT_BYTES as u64 + 1;
        let n = (&mut self.input).take(limit).read_until(b'\n', &mut self.buf);
        if n.map_err(ReadError::Io)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_EVENT_BYTES {
            return Err(ReadError::Parse(HistoryError::at(
                self.number,
                "-",
                format!("line longer than {MAX_EVENT_BYTES} bytes"),
            )));
        }
        let text = std::str::from_utf8(&self.buf).map_err(|e| {
            ReadError::Parse(HistoryError::at(
                self.number,
                "-",
                format!("not UTF-8 (at byte {} of the line)", e.valid_up_to()),
            ))
        })?;
        Ok(Some((self.number, text)))
    }
}

/// `bytes` as text, or an error naming the line of the first byte that is not UTF-8.
///
/// # Errors
/// The line and byte offset of the first invalid byte.
pub fn utf8(bytes: &[u8]) -> Result<&str, HistoryError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = before.iter().rev().take_while(|&&b| b != b'\n').count();
        HistoryError::at(line, "-", format!("not UTF-8 (at byte {col} of the line)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_strips_breaks() {
        let mut l = Lines::new(&b"a\r\n\nb"[..]);
        assert_eq!(l.next_line().unwrap(), Some((1, "a")));
        assert_eq!(l.next_line().unwrap(), Some((2, "")));
        assert_eq!(l.next_line().unwrap(), Some((3, "b")));
        assert_eq!(l.next_line().unwrap(), None);
    }

    #[test]
    fn an_overlong_line_and_bad_utf8_name_their_line() {
        let mut text = b"ok\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_EVENT_BYTES + 10));
        let mut l = Lines::new(&text[..]);
        l.next_line().unwrap();
        match l.next_line() {
            Err(ReadError::Parse(e)) => assert!(e.line == 2 && e.message.contains("longer")),
            other => panic!("{other:?}"),
        }
        let mut l = Lines::new(&b"ok\nb\xffd\n"[..]);
        l.next_line().unwrap();
        match l.next_line() {
            Err(ReadError::Parse(e)) => {
                assert_eq!((e.line, e.message.as_str()), (2, "not UTF-8 (at byte 1 of the line)"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(utf8(b"a\nbc\xff").unwrap_err().line, 2);
    }
}
