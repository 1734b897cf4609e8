//! Reports of real checks (Porcupine's data, a hand-written stale read) and of synthetic
//! histories, checked by content: verdict words, the explanation, the timeline data, plots,
//! log excerpts, escaping.

use faultline_checker::formats::jsonl;
use faultline_checker::{
    check, CheckOptions, CheckResult, Counts, KeyResult, SearchStats, UnknownReason, Verdict,
};
use faultline_reports::sample::{generate, SampleSpec};
use faultline_reports::{render_report, write_report, ReportInput};

use crate::fixtures::{checked, STALE_READ_JSONL};

fn explanation(html: &str) -> &str {
    let start = html.find("class=\"explanation\">").expect("an explanation") + 20;
    let end = html[start..].find("</p>").unwrap() + start;
    &html[start..end]
}

#[test]
fn stale_read_report_says_what_went_wrong() {
    let history = jsonl::parse_str(STALE_READ_JSONL).unwrap();
    let result = check(&history, &"register".parse().unwrap(), &CheckOptions::default()).unwrap();
    assert_eq!(result.verdict, Verdict::Illegal);
    let html = render_report(
        &ReportInput::new("stale", &history, &result)
            .command("faultline check --model register h.jsonl"),
    )
    .unwrap();
    assert!(html.contains("<h1 id=\"verdict\">Not linearizable: an anomaly was found</h1>"));
    pretty_assertions::assert_eq!(
        explanation(&html).split(" The longest").next().unwrap(),
        "The read of key k7 by client 2 (op 2) returned 1 at 6 ms, but 1 was written by the \
         write of 1 to key k7 (op 0, client 0, ok, completed at 2 ms) and then overwritten by \
         the write of 2 to key k7 (op 1, client 1, ok, completed at 4 ms), which had completed \
         before this read began at 5 ms."
    );
    // The re-run command, the fault, the plots and the embedded timeline data.
    assert!(html.contains(
        "<pre class=\"cmd\" id=\"command\">faultline check --model register h.jsonl</pre>"
    ));
    assert!(html.contains("partition [n1 n2] | [n3 n4 n5]"));
    assert_eq!(html.matches("<svg").count(), 3, "three plots");
    assert!(html.contains(
        r#""related":[[2,"saw 1, stale"],[0,"wrote 1"],[1,"overwrote it with 2; missed"]]"#
    ));
    assert!(html.contains(r#""nem":[{"s":2500000,"e":7000000,"kind":"partition""#));
    for net in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(net), "no network references: {net}");
    }
}

#[test]
fn porcupine_etcd_violation_is_explained() {
    let Some((history, result)) = checked("jepsen/etcd_000.log", "cas-register") else { return };
    assert_eq!(result.verdict, Verdict::Illegal);
    let html = render_report(&ReportInput::new("etcd_000", &history, &result)).unwrap();
    pretty_assertions::assert_eq!(
        explanation(&html).split(" The longest").next().unwrap(),
        "The read by client 11 (op 43) returned 2 at 85 ns, but 2 was written by the write of 2 \
         (op 32, client 2, ok, completed at 68 ns) and then overwritten by the write of 1 (op \
         37, client 0, ok, completed at 74 ns), which had completed before this read began at \
         84 ns."
    );
    assert!(html.contains("\"violations\":[{"), "counterexample embedded");
}

#[test]
fn porcupine_kv_missing_append_is_explained() {
    let Some((history, result)) = checked("kv/c01-bad.txt", "kv") else { return };
    assert_eq!(result.verdict, Verdict::Illegal);
    let html = render_report(&ReportInput::new("c01-bad", &history, &result)).unwrap();
    pretty_assertions::assert_eq!(
        explanation(&html).split(" The longest").next().unwrap(),
        "The get of key 7 by client 0 (op 29) returned &quot;x 0 0 y&quot; at 59 ns, but the \
         append of &quot;x 0 3 y&quot; to key 7 (op 27, client 0, ok, completed at 55 ns) had \
         completed before this get began at 58 ns, and the result does not show it (the last \
         value it shows, &quot;x 0 0 y&quot;, came from the append of &quot;x 0 0 y&quot; to key \
         7 (op 18, client 0, ok, completed at 37 ns))."
    );
}

#[test]
fn porcupine_linearizable_report_has_no_anomaly() {
    let Some((history, result)) = checked("kv/c10-ok.txt", "kv") else { return };
    assert_eq!(result.verdict, Verdict::Linearizable);
    let html = render_report(&ReportInput::new("c10-ok", &history, &result)).unwrap();
    assert!(html.contains("<h1 id=\"verdict\">Linearizable: no anomaly found</h1>"));
    assert!(!html.contains("What went wrong"));
    assert!(html.contains(&format!("All {} operations on", history.ops.len())));
    assert!(html.contains("No faults were injected."));
}

#[test]
fn unknown_verdict_names_the_reason() {
    let history = jsonl::parse_str(STALE_READ_JSONL).unwrap();
    let result = CheckResult {
        verdict: Verdict::Unknown,
        model: "register".into(),
        keys: vec![KeyResult {
            key: Some("k7".into()),
            verdict: Verdict::Unknown,
            checker: Default::default(),
            unknown_reason: Some(UnknownReason::TimeLimit),
            ops: 3,
            searched_ops: 3,
            counterexample: None,
            witness: None,
            stats: SearchStats::default(),
        }],
        counts: Counts { ops: 3, ok: 3, keys: 1, nemesis: 2, ..Counts::default() },
        micros: 5,
    };
    let html = render_report(&ReportInput::new("t", &history, &result)).unwrap();
    assert!(html.contains("Unknown: the checker could not decide"));
    assert!(html.contains("1 of 1 keys were left undecided (time limit)"));
}

#[test]
fn counts_per_kind_and_config() {
    let (history, result) = generate(&SampleSpec { ops: 300, ..SampleSpec::default() });
    let config = serde_json::json!({"name": "sample", "seed": 99, "nemesis": "partition,kill"});
    let html =
        render_report(&ReportInput::new("sample", &history, &result).config(&config)).unwrap();
    let reads = history.ops.iter().filter(|o| o.f == "read").count();
    assert!(
        html.contains(&format!("<td>read</td><td class=\"c-ok\">{reads}</td>")),
        "all reads ok"
    );
    assert!(html.contains("seed <b>99</b>"), "seed from the configuration");
    assert!(html.contains("&quot;nemesis&quot;: &quot;partition,kill&quot;"));
    assert!(html.contains("overwritten by the write of"), "the planted stale read is explained");
}

#[test]
fn hostile_values_cannot_break_out_of_the_page() {
    let evil = STALE_READ_JSONL.replace("\"k7\"", "\"</script><script>alert(1)</script>\"");
    let history = jsonl::parse_str(&evil).unwrap();
    let result = check(&history, &"register".parse().unwrap(), &CheckOptions::default()).unwrap();
    let html = render_report(&ReportInput::new("<b>x</b>", &history, &result)).unwrap();
    assert!(!html.contains("<script>alert(1)"));
    assert!(!html.contains("<b>x</b>"));
    assert_eq!(html.matches("</script>").count(), 2, "only the page's own two scripts");
}

#[test]
fn node_log_excerpts_around_faults() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes");
    for n in ["n1", "n2"] {
        std::fs::create_dir_all(nodes.join(n)).unwrap();
    }
    // History time 0 = 2026-11-22T00:00:00Z; the kill of n1 is at t=2.5 ms.
    let start = 1_795_305_600_000_000_000u64;
    std::fs::write(
        nodes.join("n1/node.log"),
        "2026-11-22T00:00:00.001000Z  INFO node: became leader term=3\n\
         2026-11-22T00:00:00.002400Z  WARN node: peer n2 unreachable\n\
         \x20   continuation line\n\
         2026-11-22T00:00:09.000000Z  INFO node: much later\n",
    )
    .unwrap();
    std::fs::write(nodes.join("n2/node.log"), "2026-11-22T00:00:00.002600Z  INFO node: n2 line\n")
        .unwrap();
    let jsonl = STALE_READ_JSONL
        .replace(
            "\"start-partition\",\"value\":{\"groups\":[[\"n1\",\"n2\"],[\"n3\",\"n4\",\"n5\"]]}",
            "\"kill\",\"value\":{\"nodes\":[\"n1\"]}",
        )
        .replace("\"stop-partition\",\"value\":{}", "\"start\",\"value\":{\"nodes\":[\"n1\"]}");
    let history = jsonl::parse_str(&jsonl).unwrap();
    let result = check(&history, &"register".parse().unwrap(), &CheckOptions::default()).unwrap();
    let input = ReportInput::new("logs", &history, &result).node_logs(&nodes).start_unix_ns(start);
    let path = write_report(dir.path(), &input).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    // minijinja escapes `/` in attributes as `&#x2f;`, which browsers read back as `/`.
    assert!(html.contains("<a href=\"nodes&#x2f;n1&#x2f;node.log\">n1</a>"));
    assert!(html.contains("<summary>kill n1 at t=2.5 ms (1 logs)</summary>"), "only n1 was killed");
    assert!(html.contains("<span class=\"before\">2026-11-22T00:00:00.001000Z  INFO node: became leader term=3</span>"));
    assert!(html.contains("<span class=\"before\">    continuation line</span>"));
    assert!(!html.contains("much later"), "lines far from the fault are left out");
    assert!(!dir.path().join(".report.html.tmp").exists());
}

/// A real `faultline run` (3 nodes, partitions, `--unsafe-bug stale-reads`, seed 7): its
/// history and test.json, kept in `tests/data/`.
#[test]
fn real_run_with_a_planted_stale_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let history =
        faultline_checker::formats::jsonl::read_path(&dir.join("stale-reads-run.jsonl")).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("stale-reads-run.test.json")).unwrap())
            .unwrap();
    // One thread: the first illegal key found (and so the one explained) is then fixed.
    let opts = CheckOptions { threads: 1, ..CheckOptions::default() };
    let result = check(&history, &"register".parse().unwrap(), &opts).unwrap();
    assert_eq!(result.verdict, Verdict::Illegal);
    let input = ReportInput::new("faultline-register-partition", &history, &result)
        .config(&config)
        .command("faultline run --replay test.json");
    let html = render_report(&input).unwrap();
    let text = explanation(&html);
    assert!(text.contains("overwritten by the write of"), "{text}");
    assert!(html.contains("seed <b>7</b>"));
    assert_eq!(
        html.matches("<td><i class=\"sw nem-partition\"></i>").count(),
        3,
        "three partitions"
    );
}
