//! The peer codec: any byte stream, delivered in chunks of any size, splits into frames
//! without panicking or growing past the frame limit; a payload that decodes as a peer
//! message is framed again and decodes to the same message.
#![no_main]

use bytes::BytesMut;
use faultline_node::raft::message::Message;
use faultline_node::runtime::transport::codec::{self, MAX_FRAME, READ_AHEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut buf = BytesMut::new();
    let mut frames = 0usize;
    'feed: for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec::parse(&mut buf) {
                Ok(Some(payload)) => {
                    assert!(payload.len() <= MAX_FRAME);
                    if frames == 0 {
                        let _ = codec::decode_hello(&payload);
                    } else if let Ok(msg) = postcard::from_bytes::<Message>(&payload) {
                        let mut wire = Vec::new();
                        codec::encode(&mut wire, &msg).expect("a decoded message encodes");
                        let mut again = BytesMut::from(&wire[..]);
                        let payload = codec::parse(&mut again).unwrap().expect("a whole frame");
                        let back: Message = postcard::from_bytes(&payload).expect("decodes");
                        assert_eq!(back, msg);
                        assert!(again.is_empty());
                    }
                    frames += 1;
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
        // Memory follows the bytes sent, never the length a header claims.
        // (A growing buffer may double: twice the bytes plus the read-ahead.)
        assert!(buf.capacity() <= 2 * (stream.len() + READ_AHEAD) + 64, "{}", buf.capacity());
    }
});
