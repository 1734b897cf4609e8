//! Converting between the history's values and the systems' wire strings.
//!
//! Both systems store strings. Register values are JSON integers in the history and decimal
//! strings on the wire; kv values are strings on both sides, and a kv read of an absent key
//! is `""` in the history (the kv model's convention) but `null` on the wire.

use faultline_api::node::KvOp;
use serde_json::Value;

use crate::op::{Func, Op};

/// An operation's arguments as wire strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireArgs {
    /// put / append / write argument, or cas's new value.
    pub value: Option<String>,
    /// cas only: the expected value; `Some(None)` means "the key is absent".
    pub expected: Option<Option<String>>,
}

/// The node API's operation for `f` (docs/node-api.md): registers are keys of the same store, so
/// `read` is a `get` and `write` a `put`.
pub fn wire_op(f: Func) -> KvOp {
    match f {
        Func::Read | Func::Get => KvOp::Get,
        Func::Write | Func::Put => KvOp::Put,
        Func::Cas => KvOp::Cas,
        Func::Append => KvOp::Append,
        Func::Delete => KvOp::Delete,
    }
}

/// The wire string of one history value (integers and strings; null is absent).
pub fn value_to_wire(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The wire arguments of `op`.
pub fn args(op: &Op) -> WireArgs {
    match op.f {
        Func::Read | Func::Get | Func::Delete => WireArgs { value: None, expected: None },
        Func::Write | Func::Put | Func::Append => {
            WireArgs { value: value_to_wire(&op.value), expected: None }
        }
        Func::Cas => WireArgs {
            value: value_to_wire(&op.value[1]),
            expected: Some(value_to_wire(&op.value[0])),
        },
    }
}

/// The history value of a read that returned `wire` (`None` = absent).
///
/// Register reads become integers (`null` when absent); a value that is not an integer is
/// kept as a string, and the checker then reports the operation as not fitting the model.
/// kv reads of an absent key become `""`.
pub fn read_value(f: Func, wire: Option<&str>) -> Value {
    match (f, wire) {
        (Func::Get, None) => Value::String(String::new()),
        (Func::Get, Some(s)) => Value::String(s.to_string()),
        (_, None) => Value::Null,
        (_, Some(s)) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| s.into()),
    }
}

/// The value of an `ok` completion for `op` whose read (if it is one) returned `wire`.
pub fn ok_value(op: &Op, wire: Option<&str>) -> Value {
    if op.f.is_read() {
        read_value(op.f, wire)
    } else {
        op.value.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[rustfmt::skip]
    #[test]
    fn round_trips() {
        let cas = Op { f: Func::Cas, key: "k".into(), value: json!([3, 4]) };
        assert_eq!(args(&cas), WireArgs { value: Some("4".into()), expected: Some(Some("3".into())) });
        let cas_absent = Op { f: Func::Cas, key: "k".into(), value: json!([null, "1,"]) };
        assert_eq!(args(&cas_absent), WireArgs { value: Some("1,".into()), expected: Some(None) });
        assert_eq!(read_value(Func::Read, Some("17")), json!(17));
        assert_eq!(read_value(Func::Read, None),       Value::Null);
        assert_eq!(read_value(Func::Read, Some("x")),  json!("x"));
        assert_eq!(read_value(Func::Get,  None),       json!(""));
        assert_eq!(read_value(Func::Get,  Some("1,2,")), json!("1,2,"));
        let w = Op { f: Func::Write, key: "k".into(), value: json!(5) };
        assert_eq!(ok_value(&w, None), json!(5));
    }
}
