//! Maelstrom's key-value services (`doc/services.md`), served in-process by the router: a
//! node sends `read`, `write` or `cas` to `lin-kv`, `seq-kv` or `lww-kv` and gets the reply
//! a Maelstrom service would give.
//!
//! Semantics: each service is one store that applies every request at once, in the order
//! the router receives them: linearizable. That meets each service's contract (lin-kv is
//! linearizable; seq-kv promises sequential consistency and lww-kv last-write-wins, both
//! weaker), but it never shows a node the stale reads seq-kv and lww-kv are allowed to give.
//! Keys and values are any JSON, compared as JSON.
//!
//! ```text
//!   read  {key}                                → read_ok {value} | error 20
//!   write {key, value}                         → write_ok
//!   cas   {key, from, to, create_if_not_exists} → cas_ok | error 20 | error 22
//!   else                                       → error 10 (not supported)
//! ```

use std::collections::BTreeMap;

use faultline_api::maelstrom::{
    Body, KEY_DOES_NOT_EXIST, MALFORMED_REQUEST, NOT_SUPPORTED, PRECONDITION_FAILED,
};
use serde_json::Value;

/// The services' names, as destinations.
pub(crate) const NAMES: [&str; 3] = ["lin-kv", "seq-kv", "lww-kv"];

/// The stores of the three services.
#[derive(Debug, Default)]
pub(crate) struct Services {
    stores: [BTreeMap<String, Value>; 3],
}

impl Services {
    /// Which service `dest` names.
    pub(crate) fn index(dest: &str) -> Option<usize> {
        NAMES.iter().position(|n| *n == dest)
    }

    /// Answers `req` sent to service `svc` (an index of [`NAMES`]).
    pub(crate) fn handle(&mut self, svc: usize, req: &Body) -> Body {
        let store = &mut self.stores[svc % NAMES.len()];
        let mut reply = match (req.kind.as_str(), req.field("key")) {
            (_, None) => Body::error(None, MALFORMED_REQUEST, "no key"),
            ("read", Some(k)) => match store.get(&k.to_string()) {
                Some(v) => Body::new("read_ok").with("value", v.clone()),
                None => Body::error(None, KEY_DOES_NOT_EXIST, "key does not exist"),
            },
            ("write", Some(k)) => {
                let v = req.field("value").cloned().unwrap_or(Value::Null);
                store.insert(k.to_string(), v);
                Body::new("write_ok")
            }
            ("cas", Some(k)) => {
                let from = req.field("from").cloned().unwrap_or(Value::Null);
                let to = req.field("to").cloned().unwrap_or(Value::Null);
                let create = req.field("create_if_not_exists").and_then(Value::as_bool);
                match store.get(&k.to_string()) {
                    None if create != Some(true) => {
                        Body::error(None, KEY_DOES_NOT_EXIST, "key does not exist")
                    }
                    Some(cur) if *cur != from => Body::error(
                        None,
                        PRECONDITION_FAILED,
                        &format!(
                            "expected {}, but had {cur}",
                            faultline_api::cut(&from.to_string(), 100)
                        ),
                    ),
                    _ => {
                        store.insert(k.to_string(), to);
                        Body::new("cas_ok")
                    }
                }
            }
            (other, _) => Body::error(
                None,
                NOT_SUPPORTED,
                &format!("{} is not a request of this service", faultline_api::cut(other, 50)),
            ),
        };
        reply.in_reply_to = req.msg_id;
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_cas_as_maelstrom() {
        let mut s = Services::default();
        let lin = Services::index("lin-kv").unwrap();
        let req = |kind: &str| {
            let mut b = Body::new(kind).with("key", "a");
            b.msg_id = Some(7);
            b
        };
        assert_eq!(s.handle(lin, &req("read")).error_code(), Some(KEY_DOES_NOT_EXIST));
        assert_eq!(s.handle(lin, &req("cas").with("from", 1).with("to", 2)).error_code(), Some(20));
        let created = s.handle(
            lin,
            &req("cas").with("from", 1).with("to", 2).with("create_if_not_exists", true),
        );
        assert_eq!((created.kind.as_str(), created.in_reply_to), ("cas_ok", Some(7)));
        assert_eq!(s.handle(lin, &req("cas").with("from", 1).with("to", 3)).error_code(), Some(22));
        assert_eq!(s.handle(lin, &req("write").with("value", 5)).kind, "write_ok");
        assert_eq!(s.handle(lin, &req("read")).field("value"), Some(&Value::from(5)));
        // Each service is its own store.
        let seq = Services::index("seq-kv").unwrap();
        assert_eq!(s.handle(seq, &req("read")).error_code(), Some(20));
        assert_eq!(s.handle(seq, &req("append")).error_code(), Some(NOT_SUPPORTED));
        assert_eq!(s.handle(seq, &Body::new("read")).error_code(), Some(MALFORMED_REQUEST));
    }
}
