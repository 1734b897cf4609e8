//! Maelstrom's node protocol (jepsen-io/maelstrom, `doc/protocol.md`) as faultline speaks it,
//! defined once: the message and body every node reads and writes, the error codes and
//! whether each is definite, the client gateway's request and reply (one JSON line each way
//! over TCP, used by faultline's router and by the lin-kv client), and the network counts a
//! run reports.
//!
//! ```text
//!   lin-kv client ──GatewayRequest{id, body}──▶ gateway of nK ──Message{cJ → nK}──▶ node
//!                 ◀──GatewayReply{id, body}──              ◀──Message{nK → cJ}───
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The longest line a node may write, or a client send: a longer one is counted and dropped.
pub const MAX_LINE: usize = 1 << 20;

/// A message's body: its `type`, its ids, and the rest of its fields as they came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// `init`, `read`, `read_ok`, `error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The sender's id of this message, when it expects a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    /// The `msg_id` of the request this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    /// Every other field.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Body {
    /// A body of `kind` without ids or fields.
    pub fn new(kind: &str) -> Body {
        Body { kind: kind.into(), msg_id: None, in_reply_to: None, fields: Map::new() }
    }

    /// This body with field `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Body {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// An `error` body answering `in_reply_to` with `code` and `text`.
    pub fn error(in_reply_to: Option<u64>, code: u64, text: &str) -> Body {
        let mut b = Body::new("error").with("code", code).with("text", text);
        b.in_reply_to = in_reply_to;
        b
    }

    /// The field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// An `error` body's code.
    pub fn error_code(&self) -> Option<u64> {
        (self.kind == "error").then(|| self.field("code").and_then(Value::as_u64)).flatten()
    }
}

/// One message between nodes, clients and services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The sender: `n1`.., `c1`.., or a service.
    pub src: String,
    /// The receiver.
    pub dest: String,
    /// The body.
    pub body: Body,
}

/// Maelstrom's error codes: `(code, name, definite)`. A definite error means the operation
/// certainly did not take place; the others (timeout, crash, and any code not listed) may
/// have.
pub const ERRORS: &[(u64, &str, bool)] = &[
    (0, "timeout", false),
    (1, "node-not-found", true),
    (10, "not-supported", true),
    (11, "temporarily-unavailable", true),
    (12, "malformed-request", true),
    (13, "crash", false),
    (14, "abort", true),
    (20, "key-does-not-exist", true),
    (21, "key-already-exists", true),
    (22, "precondition-failed", true),
    (30, "txn-conflict", true),
];

/// Error 11: temporarily unavailable (definite).
pub const TEMPORARILY_UNAVAILABLE: u64 = 11;
/// Error 20: the key does not exist (definite).
pub const KEY_DOES_NOT_EXIST: u64 = 20;
/// Error 22: a precondition (a cas's `from`) failed (definite).
pub const PRECONDITION_FAILED: u64 = 22;
/// Error 10: the request's type is not supported (definite).
pub const NOT_SUPPORTED: u64 = 10;
/// Error 12: the request is malformed (definite).
pub const MALFORMED_REQUEST: u64 = 12;

/// The name of error `code` (`error-<code>` for one not in [`ERRORS`]).
pub fn error_name(code: u64) -> String {
    ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or_else(|| format!("error-{code}"), |(_, n, _)| (*n).to_string())
}

/// Whether error `code` certainly means "did not take place" (unknown codes do not).
pub fn is_definite(code: u64) -> bool {
    ERRORS.iter().any(|(c, _, definite)| *c == code && *definite)
}

/// One request to a node's client gateway: `body` is sent to the node from a client id the
/// gateway gives the connection; the gateway sets the body's `msg_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayRequest {
    /// The caller's id of this request, echoed in the reply.
    pub id: u64,
    /// What to send.
    pub body: Body,
}

/// The node's answer to a [`GatewayRequest`] (or the gateway's own `error` 11 when the node
/// is not running, so certainly did not get it). No reply comes when the node gives none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayReply {
    /// The request's `id`.
    pub id: u64,
    /// The node's reply body.
    pub body: Body,
}

/// What the router counted of one directed link (`from` → `to`, node names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCount {
    /// The sender.
    pub from: String,
    /// The receiver.
    pub to: String,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped (cut or lost).
    pub dropped: u64,
}

/// One second of routing between nodes (clients and services left out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCount {
    /// Seconds since the router started.
    pub second: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped by a cut.
    pub cut: u64,
    /// Messages dropped by loss.
    pub lost: u64,
    /// Messages held back by a delay.
    pub delayed: u64,
}

/// What nodes did that the protocol does not allow; each is counted, logged with the line
/// (cut), and the run goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misbehaviour {
    /// Lines on stdout that are not a message (or longer than [`MAX_LINE`]).
    pub not_a_message: u64,
    /// Messages to a destination that does not exist.
    pub unknown_dest: u64,
    /// Replies to a client request that is not waiting (answered already, or never sent).
    pub reply_to_no_request: u64,
    /// Messages dropped because the receiver's inbox was full (a flood).
    pub flood: u64,
    /// Times a node's stdout closed while it was meant to run (it exited).
    pub exits: u64,
    /// The first offending lines, each cut to 200 characters.
    pub samples: Vec<String>,
}

/// The network a Maelstrom run's router was: what it routed, dropped and saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkStats {
    /// Messages routed in all (nodes, clients, services).
    pub routed: u64,
    /// Node-to-node messages the duplicate fault delivered a second time.
    #[serde(default)]
    pub duplicated: u64,
    /// Requests the in-process services (`lin-kv`, `seq-kv`, `lww-kv`) answered.
    pub service_requests: u64,
    /// Every node-to-node link that carried or dropped a message.
    pub links: Vec<LinkCount>,
    /// Node-to-node traffic per second.
    pub seconds: Vec<SecondCount>,
    /// What the nodes did wrong.
    pub misbehaviour: Misbehaviour,
}

/// The longest `node-cmd` accepted.
pub const MAX_COMMAND: usize = 4096;

/// Splits a command line into words: spaces separate, `'…'` and `"…"` group (no escapes,
/// no shell expansion); the program comes first.
///
/// # Errors
/// An empty command, an unclosed quote, a control character, or one over [`MAX_COMMAND`]
/// bytes.
pub fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    if cmd.len() > MAX_COMMAND {
        return Err(format!("a command of {} bytes (at most {MAX_COMMAND})", cmd.len()));
    }
    if cmd.chars().any(|c| c.is_control() && c != '\t') {
        return Err("a command with control characters".into());
    }
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, ' ' | '\t') => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("an unclosed {q} in {:?}", cut(cmd, 80)));
    }
    words.extend(word);
    if words.is_empty() {
        return Err("an empty command".into());
    }
    Ok(words)
}

/// The `node-cmd` setting's check: a command [`split_command`] accepts.
///
/// # Errors
/// Why it does not.
#[allow(clippy::ptr_arg)] // the settings' checks take the field's own type
pub fn check_command(cmd: &String) -> Result<(), String> {
    split_command(cmd).map(|_| ())
}

/// A Maelstrom command as part of a test name: each word's last path component, joined by
/// `-`, other than letters, digits, `.` and `_` made `_`, at most 60 characters
/// (`python3 examples/maelstrom/raft_kv.py --bug stale-reads` →
/// `python3-raft_kv.py-bug-stale-reads`).
pub fn command_slug(cmd: &str) -> String {
    let words = split_command(cmd).unwrap_or_default();
    let parts: Vec<String> = words
        .iter()
        .map(|w| {
            let base = w.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            base.trim_start_matches('-')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
                .collect::<String>()
        })
        .filter(|p| !p.is_empty() && !p.chars().all(|c| c == '.'))
        .collect();
    let slug = parts.join("-");
    let cut: String = slug.chars().take(60).collect();
    if cut.is_empty() {
        "cmd".into()
    } else {
        cut
    }
}

/// Whether a server may run `cmd`: its program must be an absolute path to a file inside
/// one of `dirs` (symbolic links resolved), the directories its operator allowed. The
/// program's arguments are its own business: the operator vouched for the program.
///
/// # Errors
/// Why not, without naming any server path but the command's own words.
pub fn command_allowed(cmd: &str, dirs: &[std::path::PathBuf]) -> Result<(), String> {
    let words = split_command(cmd)?;
    let program = std::path::Path::new(&words[0]);
    if dirs.is_empty() {
        return Err("this server allows no node commands (its operator can allow a directory \
                    of them with --allow-node-cmd-dir)"
            .into());
    }
    let refused = || {
        format!(
            "the program {} is not a file inside a directory this server's operator allowed \
             (name it by its absolute path)",
            cut(&words[0], 200)
        )
    };
    if !program.is_absolute() {
        return Err(refused());
    }
    let real = std::fs::canonicalize(program).map_err(|_| refused())?;
    let inside = dirs
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .any(|d| real.starts_with(&d) && real != d);
    if inside && real.is_file() {
        Ok(())
    } else {
        Err(refused())
    }
}

use crate::cut;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_keep_their_fields_and_ids() {
        let line =
            r#"{"src":"c1","dest":"n1","body":{"type":"cas","msg_id":3,"key":1,"from":2,"to":3}}"#;
        let m: Message = serde_json::from_str(line).unwrap();
        assert_eq!(
            (m.body.kind.as_str(), m.body.msg_id, m.body.in_reply_to),
            ("cas", Some(3), None)
        );
        assert_eq!(m.body.field("to"), Some(&Value::from(3)));
        let back = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Message>(&back).unwrap(), m);
        let e = Body::error(Some(3), 22, "no");
        assert_eq!(e.error_code(), Some(22));
        assert!(is_definite(22) && is_definite(11) && !is_definite(0) && !is_definite(13));
        assert!(!is_definite(999));
        assert_eq!(error_name(20), "key-does-not-exist");
        assert_eq!(error_name(77), "error-77");
    }

    #[test]
    fn only_programs_inside_allowed_dirs_are_allowed() {
        let root = tempfile::tempdir().unwrap();
        let allowed = root.path().join("nodes");
        std::fs::create_dir(&allowed).unwrap();
        let node = allowed.join("node.sh");
        std::fs::write(&node, "#!/bin/sh\n").unwrap();
        let outside = root.path().join("other.sh");
        std::fs::write(&outside, "#!/bin/sh\n").unwrap();
        let dirs = vec![allowed.clone()];
        assert!(command_allowed(&format!("{} --bug x", node.display()), &dirs).is_ok());
        for bad in [
            format!("{}", outside.display()),
            format!("{}/../other.sh", allowed.display()),
            "python3 -c 'import os'".to_string(),
            "nodes/node.sh".to_string(),
            format!("{}", allowed.display()),
            format!("{}/missing", allowed.display()),
        ] {
            let e = command_allowed(&bad, &dirs).unwrap_err();
            assert!(e.contains("not a file inside a directory"), "{bad}: {e}");
        }
        assert!(command_allowed(&node.display().to_string(), &[])
            .unwrap_err()
            .contains("allows no"));
    }

    #[test]
    fn commands_split_at_spaces_and_quotes_group() {
        let w = |s: &str| split_command(s);
        assert_eq!(
            w("python3  raft_kv.py --bug stale-reads").unwrap(),
            ["python3", "raft_kv.py", "--bug", "stale-reads"]
        );
        assert_eq!(
            w("sh -c 'exec ./n --x \"a b\"'").unwrap(),
            ["sh", "-c", "exec ./n --x \"a b\""]
        );
        assert_eq!(w("a ''").unwrap(), ["a", ""]);
        assert!(w("  ").unwrap_err().contains("empty"));
        assert!(w("a 'b").unwrap_err().contains("unclosed"));
        assert!(w("a\nb").is_err());
        assert!(w(&"x".repeat(MAX_COMMAND + 1)).is_err());
        assert_eq!(
            command_slug("python3 examples/maelstrom/raft_kv.py --bug stale-reads"),
            "python3-raft_kv.py-bug-stale_reads"
        );
        assert_eq!(command_slug("../.. ./"), "cmd");
    }
}
