//! Bounded JSON lines: reading one line of at most `MAX_LINE` bytes from a node's stdout (or a
//! gateway connection), and classifying it as a message or as misbehaviour. A longer line is
//! skipped to its end, never buffered whole.

use faultline_api::maelstrom::{Message, MAX_LINE};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A complete line (without its newline), at most the limit long.
    Text(String),
    /// A line longer than the limit: its first bytes (lossy), and its length.
    TooLong(String, usize),
    /// End of input.
    Eof,
}

/// Reads the next line of at most `limit` bytes from `r`; the rest of a longer line is
/// consumed and dropped.
///
/// # Errors
/// The reader's I/O errors.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    limit: usize,
) -> std::io::Result<Line> {
    let mut buf: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let chunk = r.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(match (total, buf.is_empty()) {
                (0, _) => Line::Eof,
                _ => finish(buf, total, limit),
            });
        }
        let (part, found) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (&chunk[..at], true),
            None => (chunk, false),
        };
        let room = (limit + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        total += part.len();
        let used = part.len() + usize::from(found);
        r.consume(used);
        if found {
            return Ok(finish(buf, total, limit));
        }
    }
}

fn finish(mut buf: Vec<u8>, total: usize, limit: usize) -> Line {
    if total > limit {
        buf.truncate(200);
        return Line::TooLong(String::from_utf8_lossy(&buf).into_owned(), total);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Line::Text(String::from_utf8_lossy(&buf).into_owned())
}

/// A line of a node: a message, or why it is not one (the line cut for the log).
pub(crate) fn parse(line: &Line) -> Result<Message, String> {
    match line {
        Line::Text(t) => serde_json::from_str::<Message>(t)
            .map_err(|e| format!("not a message ({e}): {}", faultline_api::cut(t, 200))),
        Line::TooLong(head, len) => {
            Err(format!("a line of {len} bytes, over the {MAX_LINE}-byte limit: {head}…"))
        }
        Line::Eof => Err("end of output".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], limit: usize) -> Vec<Line> {
        let mut r = tokio::io::BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        loop {
            let l = read_line(&mut r, limit).await.unwrap();
            let end = l == Line::Eof;
            out.push(l);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn long_lines_are_cut_and_skipped() {
        let got = lines(b"ab\r\n0123456789\nlast", 5).await;
        assert_eq!(
            got,
            vec![
                Line::Text("ab".into()),
                Line::TooLong("012345".into(), 10),
                Line::Text("last".into()),
                Line::Eof
            ]
        );
        assert!(parse(&got[0]).unwrap_err().starts_with("not a message"));
        assert!(parse(&got[1]).unwrap_err().contains("10 bytes"));
        let ok = Line::Text(r#"{"src":"n1","dest":"c1","body":{"type":"x"}}"#.into());
        assert_eq!(parse(&ok).unwrap().dest, "c1");
    }
}
