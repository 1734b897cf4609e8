//! Peer wire framing: `len: u32 LE | payload`, payload = postcard-encoded message.
//!
//! ```text
//!   dialer ──▶ listener:  frame(HELLO: "FLNODE01" | node id u64 LE)  frame(msg)  frame(msg) ..
//! ```
//!
//! Reading follows mini-redis `connection.rs`: bytes accumulate in a buffer, [`parse`]
//! checks whether a whole frame is there and splits it off, otherwise the reader reads more.

use bytes::{Buf, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::raft::types::NodeId;

/// Largest accepted frame; a bigger length means a broken or hostile peer.
pub const MAX_FRAME: usize = 64 << 20;

/// The most buffer [`parse`] reserves ahead of the bytes received.
pub const READ_AHEAD: usize = 64 << 10;

const HELLO_MAGIC: &[u8; 8] = b"FLNODE01";

/// Length of a hello frame's payload: the magic and a node id.
const HELLO_LEN: usize = 16;

/// A framing or decoding failure; the connection is dropped.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The frame length exceeds [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The first frame is not a valid hello.
    #[error("bad hello frame")]
    BadHello,
    /// A payload does not decode as a message.
    #[error("undecodable message: {0}")]
    Decode(#[from] postcard::Error),
    /// The socket failed, or closed in the middle of a frame.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Appends one frame carrying `msg` to `out`.
pub fn encode<M: Serialize>(out: &mut Vec<u8>, msg: &M) -> Result<(), CodecError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let taken = std::mem::take(out);
    *out = postcard::to_extend(msg, taken)?;
    let len = out.len() - start - 4;
    if len > MAX_FRAME {
        out.truncate(start);
        return Err(CodecError::TooLarge(len));
    }
    // `len` <= MAX_FRAME < u32::MAX, checked above.
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Appends the hello frame naming `me`.
pub fn encode_hello(out: &mut Vec<u8>, me: NodeId) {
    out.extend_from_slice(&(HELLO_LEN as u32).to_le_bytes());
    out.extend_from_slice(HELLO_MAGIC);
    out.extend_from_slice(&me.0.to_le_bytes());
}

/// Decodes a hello frame's payload.
pub fn decode_hello(payload: &[u8]) -> Result<NodeId, CodecError> {
    if payload.len() != HELLO_LEN || &payload[..8] != HELLO_MAGIC {
        return Err(CodecError::BadHello);
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&payload[8..]);
    Ok(NodeId(u64::from_le_bytes(id)))
}

/// Splits one whole frame's payload off the front of `buf`, if one is there.
///
/// # Errors
///
/// [`CodecError::TooLarge`] when the header claims more than [`MAX_FRAME`] bytes.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
    parse_at_most(buf, MAX_FRAME)
}

/// As [`parse`], with a payload of at most `max` bytes.
fn parse_at_most(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>, CodecError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    if len > max {
        return Err(CodecError::TooLarge(len));
    }
    if buf.len() < 4 + len {
        // Room for what is missing, but never more than READ_AHEAD at once: memory follows
        // the bytes a peer actually sent, not the length it claims.
        buf.reserve((4 + len - buf.len()).min(READ_AHEAD));
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len).freeze()))
}

/// Reads frames from a socket.
#[derive(Debug)]
pub struct FrameReader<R> {
    io: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a reader.
    pub fn new(io: R) -> Self {
        FrameReader { io, buf: BytesMut::with_capacity(64 * 1024) }
    }

    /// The next frame's payload; `Ok(None)` on a clean end of stream between frames.
    ///
    /// # Errors
    ///
    /// I/O errors, an end of stream inside a frame, or an oversized frame.
    pub async fn read_frame(&mut self) -> Result<Option<Bytes>, CodecError> {
        self.read_at_most(MAX_FRAME).await
    }

    /// The first frame, which must be a hello: a longer one is refused after its header, so
    /// a connection that has not said who it is cannot make the node buffer megabytes.
    ///
    /// # Errors
    ///
    /// As [`FrameReader::read_frame`], and [`CodecError::BadHello`] for any other frame.
    pub async fn read_hello(&mut self) -> Result<Option<NodeId>, CodecError> {
        match self.read_at_most(HELLO_LEN).await {
            Err(CodecError::TooLarge(_)) => Err(CodecError::BadHello),
            Err(e) => Err(e),
            Ok(None) => Ok(None),
            Ok(Some(payload)) => decode_hello(&payload).map(Some),
        }
    }

    async fn read_at_most(&mut self, max: usize) -> Result<Option<Bytes>, CodecError> {
        loop {
            if let Some(frame) = parse_at_most(&mut self.buf, max)? {
                return Ok(Some(frame));
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
                };
            }
        }
    }

    /// The next frame decoded as `M`; `Ok(None)` on a clean end of stream.
    ///
    /// # Errors
    ///
    /// As [`FrameReader::read_frame`], plus payloads that do not decode.
    pub async fn read_msg<M: DeserializeOwned>(&mut self) -> Result<Option<M>, CodecError> {
        match self.read_frame().await? {
            None => Ok(None),
            Some(payload) => Ok(Some(postcard::from_bytes(&payload)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Msg {
        a: u64,
        b: Vec<u8>,
    }

    #[tokio::test]
    async fn frames_survive_any_split_of_the_stream() {
        let mut wire = Vec::new();
        encode_hello(&mut wire, NodeId(7));
        let msgs: Vec<Msg> =
            (0..5).map(|i| Msg { a: i, b: vec![i as u8; i as usize * 30] }).collect();
        for m in &msgs {
            encode(&mut wire, m).unwrap();
        }
        // Deliver the bytes in chunks of every size: parsing must not depend on the split.
        for chunk in [1, 2, 3, 7, 64, wire.len()] {
            let (mut tx, rx) = tokio::io::duplex(chunk.max(1));
            let data = wire.clone();
            let writer = tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                for piece in data.chunks(chunk) {
                    tx.write_all(piece).await.unwrap();
                }
            });
            let mut reader = FrameReader::new(rx);
            let hello = reader.read_frame().await.unwrap().unwrap();
            assert_eq!(decode_hello(&hello).unwrap(), NodeId(7));
            for m in &msgs {
                assert_eq!(&reader.read_msg::<Msg>().await.unwrap().unwrap(), m);
            }
            writer.await.unwrap();
            assert!(reader.read_frame().await.unwrap().is_none(), "clean eof");
        }
    }

    #[test]
    fn a_claimed_length_reserves_only_what_arrives() {
        let mut buf = BytesMut::from(&((MAX_FRAME as u32).to_le_bytes())[..]);
        assert!(parse(&mut buf).unwrap().is_none());
        assert!(buf.capacity() <= READ_AHEAD + 64, "{}", buf.capacity());
    }

    #[tokio::test]
    async fn eof_inside_a_frame_and_huge_lengths_are_errors() {
        let mut wire = Vec::new();
        encode(&mut wire, &Msg { a: 1, b: vec![1, 2, 3] }).unwrap();
        wire.pop();
        let mut reader = FrameReader::new(&wire[..]);
        assert!(matches!(reader.read_frame().await, Err(CodecError::Io(_))));
        let huge = (MAX_FRAME as u32 + 1).to_le_bytes();
        let mut reader = FrameReader::new(&huge[..]);
        assert!(matches!(reader.read_frame().await, Err(CodecError::TooLarge(_))));
        // A first frame longer than a hello is refused from its header alone.
        let mut wire = Vec::new();
        encode(&mut wire, &Msg { a: 1, b: vec![0; 100] }).unwrap();
        let mut reader = FrameReader::new(&wire[..4]);
        assert!(matches!(reader.read_hello().await, Err(CodecError::BadHello)));
        let mut wire = Vec::new();
        encode_hello(&mut wire, NodeId(3));
        assert_eq!(FrameReader::new(&wire[..]).read_hello().await.unwrap(), Some(NodeId(3)));
        assert!(matches!(decode_hello(b"FLNODE01"), Err(CodecError::BadHello)));
    }
}
