//! The outcome semantics the checker implements, one small history each:
//! - `ok`: took effect once, inside `[invoke, completion]`;
//! - `fail`: did not take effect (dropped), except a cas failing with `cas-mismatch`, which
//!   ran and observed a value other than the expected one;
//! - `info` (or no completion): may take effect at any instant after its invoke — even after
//!   its completion was recorded — or never;
//! - an `ok` read with error `value-unknown` (Knossos's `nil` read) constrains nothing.

use faultline_checker::formats::jsonl::parse_str;
use faultline_checker::{check, CheckOptions, ModelSpec, Verdict};

/// Builds JSONL from `(type, process, f, value[, error])` rows; time = row number.
/// `(type, process, f, value, error)`.
type Row = (&'static str, u64, &'static str, &'static str, Option<&'static str>);
/// `(name, expected verdict, rows)`.
type Case = (&'static str, Verdict, Vec<Row>);

fn history(rows: &[Row]) -> String {
    rows.iter()
        .enumerate()
        .map(|(i, (t, p, f, v, e))| {
            let err = e.map(|e| format!(",\"error\":\"{e}\"")).unwrap_or_default();
            format!("{{\"index\":{i},\"type\":\"{t}\",\"process\":{p},\"f\":\"{f}\",\"value\":{v},\"time\":{i}{err}}}\n")
        })
        .collect()
}

fn verdict(model: &str, rows: &[Row]) -> Verdict {
    let h = parse_str(&history(rows)).unwrap();
    let m: ModelSpec = model.parse().unwrap();
    check(&h, &m, &CheckOptions::default()).unwrap().verdict
}

use Verdict::{Illegal, Linearizable};

#[rustfmt::skip]
#[test]
fn outcome_semantics() {
    let cases: Vec<Case> = vec![
        ("ok write then stale read", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", None)]),
        ("concurrent read may see either", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("invoke", 1, "read", "null", None),
            ("ok", 1, "read", "null", None), ("ok", 0, "write", "1", None)]),
        ("info write takes effect after its completion", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("info", 0, "write", "1", Some("timeout")),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", None),
            ("invoke", 2, "read", "null", None), ("ok", 2, "read", "1", None)]),
        ("info write may never happen", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("info", 0, "write", "1", Some("timeout")),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", None)]),
        ("info write cannot happen before its invoke", Illegal, vec![
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None),
            ("invoke", 0, "write", "1", None), ("info", 0, "write", "1", Some("timeout"))]),
        ("info write happens once: value cannot come back", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("info", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None),
            ("invoke", 1, "write", "2", None), ("ok", 1, "write", "2", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None)]),
        ("never-completed write is like info", Linearizable, vec![
            ("invoke", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None)]),
        ("failed write did not happen", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("fail", 0, "write", "1", Some("not-leader")),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None)]),
        ("cas ok requires the expected value", Illegal, vec![
            ("invoke", 0, "cas", "[1,2]", None), ("ok", 0, "cas", "[1,2]", None)]),
        ("cas-mismatch observes a different value", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "cas", "[1,2]", None), ("fail", 1, "cas", "[1,2]", Some("cas-mismatch"))]),
        ("cas-mismatch concurrent with the write is fine", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("invoke", 1, "cas", "[1,2]", None),
            ("fail", 1, "cas", "[1,2]", Some("cas-mismatch")), ("ok", 0, "write", "1", None)]),
        ("other cas failures did not happen", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "cas", "[1,2]", None), ("fail", 1, "cas", "[1,2]", Some("not-leader")),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "1", None)]),
        ("info cas may take effect late", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "cas", "[1,2]", None), ("info", 1, "cas", "[1,2]", None),
            ("invoke", 2, "read", "null", None), ("ok", 2, "read", "1", None),
            ("invoke", 2, "read", "null", None), ("ok", 2, "read", "2", None)]),
        ("a read of unknown value matches any state", Linearizable, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", Some("value-unknown"))]),
        ("the same read of null is stale", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", None)]),
        ("a read of unknown value does not hide other reads", Illegal, vec![
            ("invoke", 0, "write", "1", None), ("ok", 0, "write", "1", None),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "null", Some("value-unknown")),
            ("invoke", 1, "read", "null", None), ("ok", 1, "read", "2", None)]),
    ];
    for (name, want, rows) in cases {
        assert_eq!(verdict("cas-register", &rows), want, "{name}");
    }
}

#[rustfmt::skip]
#[test]
fn kv_semantics() {
    let cases: Vec<Case> = vec![
        ("appends in real-time order", Linearizable, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 0, "append", "\"b\"", None), ("ok", 0, "append", "\"b\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"ab\"", None)]),
        ("appends out of real-time order", Illegal, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 0, "append", "\"b\"", None), ("ok", 0, "append", "\"b\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"ba\"", None)]),
        ("absent key reads empty", Linearizable, vec![
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"\"", None)]),
        ("lost append", Illegal, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"\"", None)]),
        ("info append seen later", Linearizable, vec![
            ("invoke", 0, "append", "\"a\"", None), ("info", 0, "append", "\"a\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"a\"", None)]),
        ("duplicate append (applied twice)", Illegal, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"aa\"", None)]),
        ("put resets", Linearizable, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 0, "put", "\"x\"", None), ("ok", 0, "put", "\"x\"", None),
            ("invoke", 0, "append", "\"b\"", None), ("ok", 0, "append", "\"b\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"xb\"", None)]),
        ("a get of unknown value matches any state", Linearizable, vec![
            ("invoke", 0, "append", "\"a\"", None), ("ok", 0, "append", "\"a\"", None),
            ("invoke", 1, "get", "null", None), ("ok", 1, "get", "\"zz\"", Some("value-unknown"))]),
    ];
    for (name, want, rows) in cases {
        assert_eq!(verdict("kv", &rows), want, "{name}");
    }
}
