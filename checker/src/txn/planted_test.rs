//! Each anomaly class planted in a small history, alone and inside a generated valid
//! history, found and named; the models each rules out; bad input named by line and field.

use crate::formats;
use crate::history::{EventKind, History};
use crate::txn::gen::{self, GenSpec};
use crate::txn::names::{Anomaly, ConsistencyModel as CM, TxnModel};
use crate::txn::testkit::{ended, history, ok, M::*, T};

fn check(h: &History, model: TxnModel) -> crate::txn::TxnResult {
    crate::txn::check(h, model, CM::StrictSerializable).unwrap()
}

/// Every planted case: its name, its model, its transactions, and the anomaly it must show.
fn cases() -> Vec<(&'static str, TxnModel, Vec<T>, Anomaly)> {
    use Anomaly as A;
    use TxnModel::*;
    let fail = |p, c, r, m| ended(EventKind::Fail, p, c, r, m);
    vec![
        (
            "ww cycle",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![A("x", 1), A("y", 1)]),
                ok(1, 0, 10, vec![A("x", 2), A("y", 2)]),
                ok(2, 0, 10, vec![R("x", vec![1, 2]), R("y", vec![2, 1])]),
            ],
            A::G0,
        ),
        (
            "ww cycle through real time",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(1, 2, 3, vec![A("x", 2)]),
                ok(2, 0, 10, vec![R("x", vec![2, 1])]),
            ],
            A::G0Realtime,
        ),
        (
            "ww cycle through process order",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(0, 2, 3, vec![A("x", 2)]),
                ok(2, 0, 10, vec![R("x", vec![2, 1])]),
            ],
            A::G0Process,
        ),
        (
            "circular information flow",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![A("x", 1), R("y", vec![1])]),
                ok(1, 0, 10, vec![A("y", 1), R("x", vec![1])]),
            ],
            A::G1c,
        ),
        (
            "future read",
            ListAppend,
            vec![ok(0, 0, 1, vec![R("x", vec![1])]), ok(1, 2, 3, vec![A("x", 1)])],
            A::G1cRealtime,
        ),
        (
            "future read on one process",
            ListAppend,
            vec![ok(0, 0, 1, vec![R("x", vec![1])]), ok(0, 2, 3, vec![A("x", 1)])],
            A::G1cProcess,
        ),
        (
            "read skew",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![A("x", 1), A("y", 1)]),
                ok(1, 0, 10, vec![R("x", vec![1]), R("y", vec![])]),
            ],
            A::GSingle,
        ),
        (
            "stale read",
            ListAppend,
            vec![ok(0, 0, 1, vec![A("x", 1)]), ok(1, 2, 3, vec![R("x", vec![])])],
            A::GSingleRealtime,
        ),
        (
            "own write not read",
            ListAppend,
            vec![ok(0, 0, 1, vec![A("x", 1)]), ok(0, 2, 3, vec![R("x", vec![])])],
            A::GSingleProcess,
        ),
        (
            "nonadjacent rw",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![A("x", 1)]),
                ok(1, 0, 10, vec![R("x", vec![1]), R("y", vec![])]),
                ok(2, 0, 10, vec![A("y", 1)]),
                ok(3, 0, 10, vec![R("y", vec![1]), R("x", vec![])]),
            ],
            A::GNonadjacent,
        ),
        (
            "nonadjacent rw through real time",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(1, 0, 1, vec![A("y", 1)]),
                ok(2, 2, 3, vec![R("x", vec![]), R("z", vec![])]),
                ok(3, 2, 3, vec![R("y", vec![])]),
            ],
            A::GNonadjacentRealtime,
        ),
        (
            "write skew",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![R("x", vec![]), A("y", 1)]),
                ok(1, 0, 10, vec![R("y", vec![]), A("x", 1)]),
            ],
            A::G2Item,
        ),
        (
            "write skew, then the same process",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(0, 2, 3, vec![R("y", vec![])]),
                ok(1, 0, 10, vec![R("x", vec![]), A("y", 1)]),
            ],
            A::G2ItemProcess,
        ),
        (
            "write skew, then real time",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(2, 2, 3, vec![R("y", vec![])]),
                ok(1, 0, 10, vec![R("x", vec![]), A("y", 1)]),
            ],
            A::G2ItemRealtime,
        ),
        (
            "nonadjacent rw through process order",
            ListAppend,
            vec![
                ok(0, 0, 1, vec![A("x", 1)]),
                ok(0, 2, 3, vec![R("y", vec![])]),
                ok(1, 0, 1, vec![A("y", 1)]),
                ok(1, 2, 3, vec![R("x", vec![])]),
            ],
            A::GNonadjacentProcess,
        ),
        (
            "aborted read",
            ListAppend,
            vec![fail(0, 0, 1, vec![A("x", 1)]), ok(1, 2, 3, vec![R("x", vec![1])])],
            A::G1a,
        ),
        (
            "intermediate read",
            ListAppend,
            vec![ok(0, 0, 10, vec![A("x", 1), A("x", 2)]), ok(1, 0, 10, vec![R("x", vec![1])])],
            A::G1b,
        ),
        ("internal", ListAppend, vec![ok(0, 0, 1, vec![A("x", 1), R("x", vec![])])], A::Internal),
        (
            "incompatible orders",
            ListAppend,
            vec![
                ok(0, 0, 10, vec![A("x", 1)]),
                ok(1, 0, 10, vec![A("x", 2)]),
                ok(2, 0, 10, vec![R("x", vec![1, 2])]),
                ok(3, 0, 10, vec![R("x", vec![2, 1])]),
            ],
            A::IncompatibleOrder,
        ),
        (
            "duplicates",
            ListAppend,
            vec![ok(0, 0, 10, vec![A("x", 1)]), ok(1, 0, 10, vec![R("x", vec![1, 1])])],
            A::DuplicateElements,
        ),
        (
            "dirty update",
            ListAppend,
            vec![
                fail(0, 0, 1, vec![A("x", 1)]),
                ok(1, 0, 10, vec![A("x", 2)]),
                ok(2, 0, 10, vec![R("x", vec![1, 2])]),
            ],
            A::DirtyUpdate,
        ),
        ("garbage", ListAppend, vec![ok(0, 0, 1, vec![R("x", vec![9])])], A::GarbageRead),
        (
            "register: circular information flow",
            RwRegister,
            vec![
                ok(0, 0, 10, vec![W("x", 1), Rv("y", Some(1))]),
                ok(1, 0, 10, vec![W("y", 1), Rv("x", Some(1))]),
            ],
            A::G1c,
        ),
        (
            "register: write skew",
            RwRegister,
            vec![
                ok(0, 0, 10, vec![Rv("x", None), W("y", 1)]),
                ok(1, 0, 10, vec![Rv("y", None), W("x", 1)]),
            ],
            A::G2Item,
        ),
        (
            "register: stale read",
            RwRegister,
            vec![ok(0, 0, 1, vec![W("x", 1)]), ok(1, 2, 3, vec![Rv("x", None)])],
            A::GSingleRealtime,
        ),
        (
            "register: read skew",
            RwRegister,
            vec![
                ok(0, 0, 10, vec![W("x", 1), W("y", 1)]),
                ok(1, 0, 10, vec![Rv("x", Some(1)), Rv("y", None)]),
            ],
            A::GSingle,
        ),
        (
            "register: aborted read",
            RwRegister,
            vec![
                ended(EventKind::Fail, 0, 0, 1, vec![W("x", 1)]),
                ok(1, 2, 3, vec![Rv("x", Some(1))]),
            ],
            A::G1a,
        ),
        (
            "register: intermediate read",
            RwRegister,
            vec![ok(0, 0, 10, vec![W("x", 1), W("x", 2)]), ok(1, 0, 10, vec![Rv("x", Some(1))])],
            A::G1b,
        ),
        (
            "register: internal",
            RwRegister,
            vec![ok(0, 0, 1, vec![W("x", 1), Rv("x", Some(2))]), ok(1, 0, 1, vec![W("x", 2)])],
            A::Internal,
        ),
        (
            "register: garbage",
            RwRegister,
            vec![ok(0, 0, 1, vec![Rv("x", Some(7))])],
            A::GarbageRead,
        ),
    ]
}

#[test]
fn every_planted_anomaly_is_found_and_named() {
    let mut covered = std::collections::BTreeSet::new();
    for (name, model, txns, want) in cases() {
        let r = check(&history(&txns), model);
        assert!(r.anomaly_types.contains(&want), "{name}: want {want}, got {:?}", r.anomaly_types);
        assert!(!r.valid, "{name}");
        for m in CM::ALL {
            assert_eq!(r.not.contains(m), r.anomaly_types.iter().any(|a| m.forbids(*a)), "{name}");
        }
        let report = r.anomalies.iter().find(|f| f.anomaly == want).unwrap();
        assert!(!report.explanation.is_empty() && !report.txns.is_empty(), "{name}");
        if want.is_cycle() {
            // The edges close a cycle, and the words end with it.
            let e = &report.edges;
            assert_eq!(e.first().unwrap().from, e.last().unwrap().to, "{name}");
            assert!(e.windows(2).all(|w| w[0].to == w[1].from), "{name}");
            assert!(report.explanation.ends_with("a cycle."), "{name}: {}", report.explanation);
        }
        covered.insert(want);
    }
    // Every anomaly name is planted at least once.
    for a in Anomaly::ALL {
        assert!(covered.contains(a), "{a} not planted");
    }
}

#[test]
fn planted_anomalies_are_found_inside_generated_histories() {
    for (name, model, mut planted, want) in cases() {
        let spec = GenSpec { model, txns: 300, clients: 5, keys: 20, ..GenSpec::default() };
        let base = gen::history(&spec);
        let end = base.ops.iter().filter_map(|o| o.ret).max().unwrap();
        let mut txns: Vec<T> = base.ops.iter().map(crate::txn::testkit::from_op).collect();
        for t in &mut planted {
            t.process += 100;
            t.call += end + 1;
            t.ret += end + 1;
        }
        txns.extend(planted);
        let r = check(&history(&txns), model);
        assert!(r.anomaly_types.contains(&want), "{name}: want {want}, got {:?}", r.anomaly_types);
    }
}

#[test]
fn generated_histories_are_valid() {
    for model in TxnModel::ALL {
        for seed in 0..20 {
            let spec = GenSpec {
                model: *model,
                txns: 400,
                clients: 6,
                keys: 8,
                seed,
                ..GenSpec::default()
            };
            let r = check(&gen::history(&spec), *model);
            assert!(r.valid && r.anomalies.is_empty(), "{model} seed {seed}: {:?}", r.anomalies);
            assert_eq!(r.counts.ok, 400);
        }
    }
}

#[test]
fn a_serializable_history_that_is_not_strict() {
    let h = history(&[ok(0, 0, 1, vec![A("x", 1)]), ok(1, 2, 3, vec![R("x", vec![])])]);
    let r = crate::txn::check(&h, TxnModel::ListAppend, CM::Serializable).unwrap();
    assert!(r.valid);
    assert_eq!(r.not, vec![CM::StrictSerializable]);
    let f = &r.anomalies[0];
    assert_eq!(
        f.explanation,
        "T2 read \"x\" without T0's append of 1, so T2 < T0 (rw). T0 completed before T2 \
         began, so T0 < T2 (realtime). However, T2 < T0 < T2: a cycle."
    );
}

#[test]
fn strings_and_integers_are_distinct() {
    let text = r#"{"index":0,"type":"invoke","process":0,"f":"txn","value":[["append",1,1]],"time":0}
{"index":1,"type":"ok","process":0,"f":"txn","value":[["append",1,1]],"time":1}
{"index":2,"type":"invoke","process":0,"f":"txn","value":[["r","1",null],["r",1,null]],"time":2}
{"index":3,"type":"ok","process":0,"f":"txn","value":[["r","1",[]],["r",1,[1]]],"time":3}
"#;
    let h = formats::jsonl::parse_str(text).unwrap();
    let r = check(&h, TxnModel::ListAppend);
    assert!(r.valid, "{:?}", r.anomalies);
    let bad = text.replace(r#"["r","1",[]]"#, r#"["r","1",["1"]]"#);
    let r = check(&formats::jsonl::parse_str(&bad).unwrap(), TxnModel::ListAppend);
    assert_eq!(r.anomaly_types, vec![Anomaly::GarbageRead]);
}

#[test]
fn bad_input_names_line_and_field() {
    let line = |v: &str, kind: &str, i: u64| {
        format!("{{\"index\":{i},\"type\":\"{kind}\",\"process\":0,\"f\":\"txn\",\"value\":{v},\"time\":{i}}}\n")
    };
    let cases = [
        (line("5", "invoke", 0), TxnModel::ListAppend, 1, "list of micro-ops"),
        (line("[[\"append\",\"x\"]]", "invoke", 0), TxnModel::ListAppend, 1, "[f, key, value]"),
        (line("[[\"w\",\"x\",1]]", "invoke", 0), TxnModel::ListAppend, 1, "\"append\" or \"r\""),
        (line("[[\"append\",\"x\",1]]", "invoke", 0), TxnModel::RwRegister, 1, "\"w\" or \"r\""),
        (line("[[\"append\",[1],1]]", "invoke", 0), TxnModel::ListAppend, 1, "the key must be"),
        (
            line("[[\"append\",\"x\",1.5]]", "invoke", 0),
            TxnModel::ListAppend,
            1,
            "the value must be",
        ),
        (
            line("[[\"r\",\"x\",null]]", "invoke", 0) + &line("[[\"r\",\"x\",3]]", "ok", 1),
            TxnModel::ListAppend,
            2,
            "returns a list",
        ),
        (
            line("[[\"r\",\"x\",null]]", "invoke", 0) + &line("[[\"r\",\"y\",[]]]", "ok", 1),
            TxnModel::ListAppend,
            2,
            "differs from its invoke",
        ),
        (
            line("[[\"append\",\"x\",1]]", "invoke", 0)
                + &line("[[\"append\",\"x\",1]]", "ok", 1)
                + &line("[[\"append\",\"x\",1]]", "invoke", 2)
                + &line("[[\"append\",\"x\",1]]", "ok", 3),
            TxnModel::ListAppend,
            4,
            "distinct elements",
        ),
    ];
    for (text, model, at, says) in cases {
        let h = formats::jsonl::parse_str(&text).unwrap();
        let e = crate::txn::check(&h, model, CM::Serializable).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (at, "value"), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {e}");
    }
    let read = r#"{"index":0,"type":"invoke","process":0,"f":"read","value":null,"time":0}"#;
    let e = crate::txn::check(
        &formats::jsonl::parse_str(read).unwrap(),
        TxnModel::ListAppend,
        CM::Serializable,
    )
    .unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (1, "f"));
}

/// Elle's own example histories, as Jepsen EDN (written after `histories/` in
/// jepsen-io/elle): the paper's example, and one that is snapshot isolated but not
/// serializable, for which Elle reports G2-item only and rules out repeatable read.
#[test]
fn reads_jepsen_edn_list_append_histories() {
    let si = "\
{:index 10, :time 0, :type :invoke, :process 2, :f :txn, :value [[:append 9 2]]}
{:index 11, :time 0, :type :ok, :process 2, :f :txn, :value [[:append 9 2]]}
{:index 20, :time 0, :type :invoke, :process 4, :f :txn, :value [[:append 8 1] [:r 9 nil]]}
{:index 21, :time 0, :type :ok, :process 4, :f :txn, :value [[:append 8 1] [:r 9 nil]]}
{:index 30, :time 0, :type :invoke, :process 7, :f :txn, :value [[:r 6 nil] [:r 8 nil] [:append 9 5]]}
{:index 31, :time 0, :type :ok, :process 7, :f :txn, :value [[:r 6 nil] [:r 8 nil] [:append 9 5]]}
{:index 40, :time 0, :type :invoke, :process 9, :f :txn, :value [[:append 6 2] [:r 9 nil]]}
{:index 41, :time 0, :type :ok, :process 9, :f :txn, :value [[:append 6 2] [:r 9 [2]]]}
";
    let h = formats::edn::parse_history(si).unwrap();
    let r = crate::txn::check(&h, TxnModel::ListAppend, CM::SnapshotIsolation).unwrap();
    assert!(r.valid);
    assert!(r.anomaly_types.contains(&Anomaly::G2Item), "{:?}", r.anomaly_types);
    assert!(r.not.contains(&CM::RepeatableRead) && r.not.contains(&CM::Serializable));
    assert!(!r.not.contains(&CM::SnapshotIsolation), "{:?}", r.anomalies);

    // The paper's example: no :process and no :f, one op after another.
    let paper = "\
{:index 0 :type :invoke  :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 1 :type :ok      :value [[:append 253 1] [:append 253 3] [:append 253 4] [:append 255 2] [:append 255 3] [:append 255 4] [:append 255 5] [:append 256 1] [:append 256 2]]}
{:index 2 :type :invoke, :value [[:append 255 8] [:r 253 nil]]}
{:index 3 :type :ok,     :value [[:append 255 8] [:r 253 [1 3 4]]]}
{:index 4 :type :invoke, :value [[:append 256 4] [:r 255 nil] [:r 256 nil] [:r 253 nil]]}
{:index 5 :type :ok,     :value [[:append 256 4] [:r 255 [2 3 4 5 8]] [:r 256 [1 2 4]] [:r 253 [1 3 4]]]}
{:index 6 :type :invoke, :value [[:append 250 10] [:r 253 nil] [:r 255 nil] [:append 256 3]]}
{:index 7 :type :ok      :value [[:append 250 10] [:r 253 [1 3 4]] [:r 255 [2 3 4 5]] [:append 256 3]]}
";
    let h = formats::edn::parse_history(paper).unwrap();
    let r = check(&h, TxnModel::ListAppend);
    // T4 read 255 without T2's 8, T2's 8 is in T3's read, T3's 4 precedes T4's 3 on 256:
    // one rw edge, a G-single (read skew); the ops ran one after another, so also through
    // process and real-time order.
    assert_eq!(
        r.anomaly_types,
        vec![Anomaly::GSingle, Anomaly::GSingleProcess, Anomaly::GSingleRealtime]
    );
    let g = &r.anomalies[0];
    let names: Vec<&str> = g.txns.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["T6", "T2", "T4"], "{}", g.explanation);
    assert!(r.not.contains(&CM::SnapshotIsolation) && !r.not.contains(&CM::ReadCommitted));
}
