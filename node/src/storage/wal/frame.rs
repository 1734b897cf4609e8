//! Record framing of the write-ahead log: a length, a checksum, a payload.
//!
//! ```text
//!   file   := MAGIC record*
//!   record := len: u32 LE | crc: u32 LE | payload: [u8; len]
//!   crc    := crc32(len as u32 LE bytes ++ payload)
//! ```
//!
//! The checksum covers the length too, so a flipped bit in a length is caught by the
//! checksum of the record it would mis-frame, not only by running past the end of the file.
//! [`scan`] walks a file image and stops at the first record that is incomplete (a torn
//! write: the process died inside `write`) or whose checksum does not match (corruption);
//! everything from that offset on is reported as the tail to cut, never handed out.

use std::fmt;

/// The first bytes of every WAL file: the format name and its version.
pub const MAGIC: &[u8; 8] = b"FLWAL002";

/// Bytes of a record header (length + checksum).
pub const HEADER_LEN: usize = 8;

/// The largest payload a record may carry. A length above it is treated as corruption (a
/// torn or garbled header), so a bad length can never make recovery allocate gigabytes.
pub const MAX_PAYLOAD: usize = 256 << 20;

/// Appends one framed record holding `payload` to `out`.
///
/// # Panics
///
/// If `payload` is longer than [`MAX_PAYLOAD`]: the caller splits larger batches (this is a
/// programming error, not an I/O condition).
pub fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    assert!(
        payload.len() <= MAX_PAYLOAD,
        "wal record of {} bytes exceeds the limit",
        payload.len()
    );
    // The assert above bounds the length far below u32::MAX.
    let len = (payload.len() as u32).to_le_bytes();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    out.extend_from_slice(&len);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why [`scan`] stopped before the end of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailProblem {
    /// The file is shorter than the magic, or the magic is wrong.
    BadMagic,
    /// Fewer than [`HEADER_LEN`] bytes remain: a header was torn.
    TornHeader,
    /// The header's length runs past the end of the file: a payload was torn.
    TornPayload {
        /// The length the header claims.
        len: usize,
    },
    /// The header's length exceeds [`MAX_PAYLOAD`].
    BadLength {
        /// The length the header claims.
        len: usize,
    },
    /// The checksum does not match the length and payload.
    BadChecksum,
}

impl fmt::Display for TailProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TailProblem::BadMagic => write!(f, "missing or wrong file magic"),
            TailProblem::TornHeader => write!(f, "torn record header"),
            TailProblem::TornPayload { len } => {
                write!(f, "torn record payload (header says {len} bytes)")
            }
            TailProblem::BadLength { len } => write!(f, "impossible record length {len}"),
            TailProblem::BadChecksum => write!(f, "checksum mismatch"),
        }
    }
}

/// The result of scanning a WAL file image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan<'a> {
    /// Payloads of the valid records, in file order.
    pub records: Vec<&'a [u8]>,
    /// Length of the valid prefix (magic + valid records): the file is truncated to this.
    pub valid_len: usize,
    /// Why the scan stopped early, if it did; `None` when the whole file was valid.
    pub problem: Option<TailProblem>,
}

/// Scans a whole file image and returns its valid records and where the valid prefix ends.
///
/// An empty image is a valid empty log whose `valid_len` is 0 (the caller writes the magic).
pub fn scan(image: &[u8]) -> Scan<'_> {
    if image.is_empty() {
        return Scan { records: Vec::new(), valid_len: 0, problem: None };
    }
    if image.len() < MAGIC.len() || &image[..MAGIC.len()] != MAGIC {
        return Scan { records: Vec::new(), valid_len: 0, problem: Some(TailProblem::BadMagic) };
    }
    let mut records = Vec::new();
    let mut at = MAGIC.len();
    let problem = loop {
        let rest = &image[at..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER_LEN {
            break Some(TailProblem::TornHeader);
        }
        let len_bytes: [u8; 4] = [rest[0], rest[1], rest[2], rest[3]];
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let len = u32::from_le_bytes(len_bytes) as usize;
        if len > MAX_PAYLOAD {
            break Some(TailProblem::BadLength { len });
        }
        if rest.len() - HEADER_LEN < len {
            break Some(TailProblem::TornPayload { len });
        }
        let payload = &rest[HEADER_LEN..HEADER_LEN + len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&len_bytes);
        hasher.update(payload);
        if hasher.finalize() != crc {
            break Some(TailProblem::BadChecksum);
        }
        records.push(payload);
        at += HEADER_LEN + len;
    };
    Scan { records, valid_len: at, problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for p in payloads {
            encode_into(&mut out, p);
        }
        out
    }

    #[test]
    fn round_trips_records() {
        let img = image(&[b"a", b"", b"hello world"]);
        let scan = scan(&img);
        assert_eq!(scan.records, vec![&b"a"[..], b"", b"hello world"]);
        assert_eq!(scan.valid_len, img.len());
        assert_eq!(scan.problem, None);
    }

    #[test]
    fn every_cut_of_the_last_record_keeps_exactly_the_earlier_ones() {
        let img = image(&[b"first", b"second record", b"third and last"]);
        let last_start = img.len() - (HEADER_LEN + b"third and last".len());
        for cut in last_start..img.len() {
            let scan = scan(&img[..cut]);
            assert_eq!(scan.records, vec![&b"first"[..], b"second record"], "cut at {cut}");
            assert_eq!(scan.valid_len, last_start, "cut at {cut}");
            assert_eq!(scan.problem.is_some(), cut != last_start, "cut at {cut}");
        }
    }

    #[test]
    fn a_flipped_byte_drops_its_record_and_everything_after() {
        let img = image(&[b"one", b"two", b"three"]);
        let second = MAGIC.len() + HEADER_LEN + 3;
        for at in second..second + HEADER_LEN + 3 {
            let mut bad = img.clone();
            bad[at] ^= 0x40;
            let scan = scan(&bad);
            assert_eq!(scan.records, vec![&b"one"[..]], "flip at {at}");
            assert_eq!(scan.valid_len, second, "flip at {at}");
            assert!(scan.problem.is_some());
        }
    }

    #[test]
    fn bad_magic_yields_nothing() {
        let mut img = image(&[b"x"]);
        img[0] = b'X';
        let scan = scan(&img);
        assert!(scan.records.is_empty());
        assert_eq!(scan.problem, Some(TailProblem::BadMagic));
        assert_eq!(scan.valid_len, 0);
    }
}
