//! Client commands and responses: the typed form used inside the node, and its mapping onto
//! the HTTP API's wire types (`POST /v1/kv`, see docs/node-api.md), which are defined once in
//! `faultline_api::node` and shared with the clients.
//!
//! ```text
//!  JSON Request ──Command::from_request──▶ Command ──encode──▶ log entry bytes ──▶ Kv::apply
//!  JSON ResponseBody ◀──to_body── Response ◀──────────────────────────────────────┘
//! ```

use crate::raft::types::{ClientId, NodeId};
pub use faultline_api::node::{KvOp, LeaderHint, Reply, Request, ResponseBody};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One client command, as stored in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The client session.
    pub client: ClientId,
    /// The request's sequence number in that session; a retry reuses it.
    pub seq: u64,
    /// The key.
    pub key: String,
    /// What to do.
    pub op: Op,
}

/// The operations of the KV store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Read the key's value.
    Get,
    /// Set the value.
    Put(String),
    /// Append to the value (an absent key counts as empty).
    Append(String),
    /// Set `new` if the current value is `expected` (`None`: the key is absent).
    Cas {
        /// The value expected (`None`: absent).
        expected: Option<String>,
        /// The value to set.
        new: String,
    },
    /// Remove the key.
    Delete,
}

impl Op {
    /// The name used on the wire: `get`, `put`, `append`, `cas`, `delete`.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put(_) => "put",
            Op::Append(_) => "append",
            Op::Cas { .. } => "cas",
            Op::Delete => "delete",
        }
    }

    /// True for `get`.
    pub fn is_read(&self) -> bool {
        matches!(self, Op::Get)
    }
}

/// A log entry's command bytes could not be decoded.
#[derive(Debug, Error)]
#[error("cannot decode command: {0}")]
pub struct DecodeError(#[from] postcard::Error);

impl Command {
    /// Encodes the command for a log entry.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data (strings and integers) into a Vec cannot fail.
        postcard::to_stdvec(self).expect("encoding a command cannot fail")
    }

    /// Decodes log entry bytes.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not an encoded command.
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        Ok(postcard::from_bytes(bytes)?)
    }
}

/// The answer to one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Applied. For `get`, `value` is the current value (`None`: absent).
    Ok {
        /// The value read (get), else `None`.
        value: Option<String>,
    },
    /// Certainly not applied, e.g. `cas-mismatch` (then `value` is the current value).
    Fail {
        /// Machine-readable reason.
        error: String,
        /// The current value for `cas-mismatch`.
        value: Option<String>,
    },
    /// Rejected before proposing: this node is not the leader.
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
    /// May or may not have been applied (`timeout`, `leadership-lost`, `shutting-down`).
    Unknown {
        /// Machine-readable reason.
        error: String,
    },
}

impl Response {
    /// An `Unknown` with the given reason.
    pub fn unknown(error: &str) -> Response {
        Response::Unknown { error: error.to_string() }
    }

    /// The JSON body; `leader_addr` maps a node id to its client address.
    pub fn to_body(&self, leader_addr: impl Fn(NodeId) -> Option<String>) -> ResponseBody {
        let (status, value, error, leader) = match self {
            Response::Ok { value } => (Reply::Ok, value.clone(), None, None),
            Response::Fail { error, value } => {
                (Reply::Fail, value.clone(), Some(error.clone()), None)
            }
            Response::NotLeader { leader } => (
                Reply::NotLeader,
                None,
                Some("not-leader".to_string()),
                leader.map(|id| LeaderHint { id: id.0, client_addr: leader_addr(id) }),
            ),
            Response::Unknown { error } => (Reply::Unknown, None, Some(error.clone()), None),
        };
        ResponseBody { status, value, error, leader }
    }
}

/// A JSON request that does not make a command.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    /// A put, append or cas without `value`.
    #[error("op {0} needs a \"value\" field")]
    MissingValue(KvOp),
}

impl Command {
    /// The command a JSON request asks for.
    ///
    /// # Errors
    ///
    /// [`RequestError`] naming the bad field.
    pub fn from_request(req: Request) -> Result<Command, RequestError> {
        let value = |v: Option<String>| v.ok_or(RequestError::MissingValue(req.op));
        let op = match req.op {
            KvOp::Get => Op::Get,
            KvOp::Put => Op::Put(value(req.value)?),
            KvOp::Append => Op::Append(value(req.value)?),
            KvOp::Cas => Op::Cas { expected: req.expected, new: value(req.value)? },
            KvOp::Delete => Op::Delete,
        };
        Ok(Command { client: ClientId(req.client), seq: req.seq, key: req.key, op })
    }

    /// The JSON request for a command (used by clients and tests).
    pub fn to_request(&self) -> Request {
        let (op, value, expected) = match &self.op {
            Op::Get => (KvOp::Get, None, None),
            Op::Delete => (KvOp::Delete, None, None),
            Op::Put(v) => (KvOp::Put, Some(v.clone()), None),
            Op::Append(v) => (KvOp::Append, Some(v.clone()), None),
            Op::Cas { expected, new } => (KvOp::Cas, Some(new.clone()), expected.clone()),
        };
        Request { client: self.client.0, seq: self.seq, op, key: self.key.clone(), value, expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn json_round_trip_and_encoding() {
        let json = r#"{"client":17,"seq":3,"op":"cas","key":"k7","value":"5","expected":null}"#;
        let req: Request = serde_json::from_str(json).unwrap();
        let cmd = Command::from_request(req.clone()).unwrap();
        assert_eq!(
            cmd,
            Command {
                client: ClientId(17),
                seq: 3,
                key: "k7".into(),
                op: Op::Cas { expected: None, new: "5".into() }
            }
        );
        assert_eq!(cmd.to_request(), req);
        assert_eq!(Command::decode(&cmd.encode()).unwrap(), cmd);
        let bad: Request =
            serde_json::from_str(r#"{"client":1,"seq":1,"op":"put","key":"k"}"#).unwrap();
        assert_eq!(Command::from_request(bad), Err(RequestError::MissingValue(KvOp::Put)));
    }

    #[test]
    fn response_bodies() {
        let addr = |id: NodeId| Some(format!("127.0.0.1:800{}", id.0));
        let nl = Response::NotLeader { leader: Some(NodeId(2)) };
        assert_eq!(
            serde_json::to_string(&nl.to_body(addr)).unwrap(),
            r#"{"status":"not-leader","value":null,"error":"not-leader","leader":{"id":2,"client_addr":"127.0.0.1:8002"}}"#
        );
        let ok = Response::Ok { value: None }.to_body(addr);
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"status":"ok","value":null}"#);
    }
}
