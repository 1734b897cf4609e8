//! `faultline check` end to end: exit codes of docs/history-format.md (0, 1, 2, 3), errors that name the
//! file, line and field, `--json`, and the report stored under `store/checks/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn faultline(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).current_dir(cwd).output().unwrap()
}

fn repo(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel).display().to_string()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn a_violation_exits_1_names_the_key_and_stores_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = faultline(&["check", &repo("examples/stale-read.jsonl")], dir.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("NOT linearizable") && out.contains("key \"k1\""), "{out}");
    // Distinct values: the polynomial register checker decided it, naming both writes.
    assert!(out.contains("write(2) by process 1") && out.contains("read → 1"), "{out}");
    let checks: Vec<_> = std::fs::read_dir(dir.path().join("store/checks")).unwrap().collect();
    assert_eq!(checks.len(), 1);
    let check = checks[0].as_ref().unwrap().path();
    for f in ["report.html", "results.json", "history.path"] {
        assert!(check.join(f).is_file(), "{f} missing in {}", check.display());
    }
    // The history is referenced, not copied.
    let path = std::fs::read_to_string(check.join("history.path")).unwrap();
    assert!(path.trim().ends_with("examples/stale-read.jsonl"), "{path}");
    assert!(!check.join("history.jsonl").exists());
    let html = std::fs::read_to_string(check.join("report.html")).unwrap();
    assert!(html.contains("unique-register"), "the report names the checker per key");
}

#[test]
fn copy_history_keeps_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let o = faultline(&["check", "--copy-history", &repo("examples/stale-read.jsonl")], dir.path());
    assert_eq!(code(&o), 1);
    let checks: Vec<_> = std::fs::read_dir(dir.path().join("store/checks")).unwrap().collect();
    let check = checks[0].as_ref().unwrap().path();
    assert!(check.join("history.jsonl").is_file() && !check.join("history.path").exists());
}

#[test]
fn unique_values_asserts_distinct_writes() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("twice.jsonl");
    std::fs::write(
        &h,
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":4,\"time\":1}\n\
         {\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":4,\"time\":2}\n\
         {\"index\":2,\"type\":\"invoke\",\"process\":1,\"f\":\"write\",\"value\":4,\"time\":3}\n\
         {\"index\":3,\"type\":\"ok\",\"process\":1,\"f\":\"write\",\"value\":4,\"time\":4}\n",
    )
    .unwrap();
    // Without the flag: WGL decides the key.
    let o = faultline(&["check", "--json", "--no-report", h.to_str().unwrap()], dir.path());
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"]["keys"][0]["checker"], "wgl");
    // With it: an error naming the second write and its history index.
    let o =
        faultline(&["check", "--unique-values", "--no-report", h.to_str().unwrap()], dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("history index 2") && err.contains("value 4 is written again"), "{err}");
    // It is a per-key assertion.
    let args = ["check", "--unique-values", "--no-partition", "--no-report", h.to_str().unwrap()];
    let o = faultline(&args, dir.path());
    assert_eq!(code(&o), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--no-partition"));
}

#[test]
fn json_output_is_one_object_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = faultline(
        &["check", "--json", "--no-report", "--all-keys", &repo("examples/stale-read.jsonl")],
        dir.path(),
    );
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"]["verdict"], "illegal");
    assert_eq!(v["result"]["keys"].as_array().unwrap().len(), 2);
    assert_eq!(v["result"]["keys"][1]["verdict"], "linearizable", "k2: the info write explains 6");
    assert_eq!(v["result"]["keys"][0]["checker"], "unique-register");
    assert!(!dir.path().join("store").exists(), "--no-report stores nothing");
}

#[test]
fn a_linearizable_history_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("ok.jsonl");
    std::fs::write(
        &h,
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"append\",\"key\":\"a\",\"value\":\"x\",\"time\":1}\n\
         {\"index\":1,\"type\":\"ok\",\"process\":0,\"f\":\"append\",\"key\":\"a\",\"value\":\"x\",\"time\":2}\n\
         {\"index\":2,\"type\":\"invoke\",\"process\":1,\"f\":\"get\",\"key\":\"a\",\"value\":null,\"time\":3}\n\
         {\"index\":3,\"type\":\"ok\",\"process\":1,\"f\":\"get\",\"key\":\"a\",\"value\":\"x\",\"time\":4}\n",
    )
    .unwrap();
    let o = faultline(&["check", "--model", "kv", h.to_str().unwrap()], dir.path());
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn bad_input_exits_3_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("bad.jsonl");
    std::fs::write(
        &h,
        "{\"index\":0,\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"time\":1}\n\
         {\"index\":1,\"type\":\"done\",\"process\":0,\"f\":\"read\",\"time\":2}\n",
    )
    .unwrap();
    let o = faultline(&["check", h.to_str().unwrap()], dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("bad.jsonl") && err.contains("line 2") && err.contains("`type`"), "{err}");

    let o = faultline(&["check", "--model", "queue", h.to_str().unwrap()], dir.path());
    assert_eq!(code(&o), 3);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown model"));
}

#[test]
fn usage_errors_exit_3_and_help_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&faultline(&["check", "--no-such-flag", "x"], dir.path())), 3);
    assert_eq!(code(&faultline(&["frobnicate"], dir.path())), 3);
    assert_eq!(code(&faultline(&["--help"], dir.path())), 0);
    assert_eq!(code(&faultline(&["check", "--help"], dir.path())), 0);
}

#[test]
fn a_search_over_its_time_limit_exits_2_naming_the_undecided_part() {
    // Porcupine's test data (docs/environment.md).
    let data = std::env::var_os("FAULTLINE_TESTDATA").map(PathBuf::from).unwrap_or_default();
    let c50 = data.join("kv/c50-ok.txt");
    if !c50.exists() {
        eprintln!("skipping: {} not found (set FAULTLINE_TESTDATA)", c50.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = faultline(
        &[
            "check",
            "-m",
            "kv",
            "--no-partition",
            "--time-limit",
            "0.5",
            "--no-report",
            c50.to_str().unwrap(),
        ],
        dir.path(),
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 2, "{out}");
    assert!(out.contains("undecided") && out.contains("time limit"), "{out}");
}

/// Runs `faultline check --no-report` on a file holding `text`; returns (exit code, stdout,
/// stderr).
fn check_text(name: &str, text: &[u8], extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join(name);
    std::fs::write(&h, text).unwrap();
    let mut args = vec!["check", "--no-report"];
    args.extend_from_slice(extra);
    args.push(h.to_str().unwrap());
    let o = faultline(&args, dir.path());
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (code(&o), out.into_owned(), err.into_owned())
}

/// A JSONL event line.
fn ev(index: u64, kind: &str, process: u64, f: &str, value: &str) -> String {
    format!(
        "{{\"index\":{index},\"type\":\"{kind}\",\"process\":{process},\"f\":\"{f}\",\"value\":{value},\"time\":{}}}\n",
        index * 10
    )
}

#[test]
fn deep_nesting_is_a_clear_error_not_a_crash() {
    // The repro of issue 11: `[` 20,000 times used to overflow the stack (exit 134).
    let (code, _, err) = check_text("d.edn", "[".repeat(20_000).as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("d.edn: line 1") && err.contains("nested more than 128 deep"), "{err}");
    let deep_json = format!("{{\"index\":0,\"value\":{}}}\n", "[".repeat(20_000));
    let (code, _, err) = check_text("d.jsonl", deep_json.as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 1") && err.contains("recursion limit"), "{err}");
}

#[test]
fn an_error_is_said_once() {
    let text = ev(0, "invoke", 0, "read", "null") + &ev(1, "done", 0, "read", "null");
    let (code, _, err) = check_text("bad.jsonl", text.as_bytes(), &[]);
    assert_eq!(code, 3);
    assert_eq!(err.matches("line 2").count(), 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let text = [
        &b"\xEF\xBB\xBF"[..],
        (ev(0, "invoke", 0, "write", "1") + &ev(1, "ok", 0, "write", "1")).as_bytes(),
    ]
    .concat();
    let (code, out, err) = check_text("bom.jsonl", &text, &["--model", "register"]);
    assert_eq!(code, 0, "{out}{err}");
    let edn = b"\xEF\xBB\xBF{:type :invoke, :f :write, :value 1, :process 0}\n";
    let (code, out, err) = check_text("bom.edn", edn, &["--model", "register"]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_write_completing_with_another_value_names_both_lines() {
    let text = ev(0, "invoke", 0, "write", "1")
        + &ev(1, "invoke", 1, "read", "null")
        + &ev(2, "ok", 0, "write", "2");
    let (code, _, err) = check_text("w.jsonl", text.as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 3, field `value`") && err.contains("invoke on line 1"), "{err}");
}

#[test]
fn a_duplicate_index_is_an_error() {
    let text = ev(0, "invoke", 0, "write", "1") + &ev(0, "ok", 0, "write", "1");
    let (code, _, err) = check_text("i.jsonl", text.as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("line 2, field `index`") && err.contains("already used on line 1"),
        "{err}"
    );
}

#[test]
fn model_errors_name_the_line_and_field() {
    let text = ev(0, "invoke", 0, "write", "1")
        + &ev(1, "ok", 0, "write", "1")
        + &ev(2, "invoke", 0, "frobnicate", "1");
    let (code, _, err) = check_text("f.jsonl", text.as_bytes(), &["--model", "cas-register"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 3, field `f`: unknown function \"frobnicate\""), "{err}");
    let text = ev(0, "invoke", 0, "read", "null") + &ev(1, "ok", 0, "read", "{\"a\":1}");
    let (code, _, err) = check_text("m.jsonl", text.as_bytes(), &["--model", "register"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("line 2, field `value`: a read result must be an integer"), "{err}");
}

#[test]
fn a_huge_bad_value_is_cut_in_the_message() {
    let huge = format!("\"{}\"", "v".repeat(10 << 20));
    let text = ev(0, "invoke", 0, "write", &huge);
    let (code, _, err) = check_text("big.jsonl", text.as_bytes(), &["--model", "register"]);
    assert_eq!(code, 3, "{}", &err[..err.len().min(500)]);
    assert!(err.len() < 2000, "{} bytes of stderr", err.len());
    assert!(err.contains("line 1, field `value`") && err.contains("bytes)"), "{err}");
}

/// A Knossos-style cas-register history (as in Knossos's `data/cas-register`), made with the
/// register starting at 0: `nil` reads are reads whose value was not known.
const KNOSSOS_NIL_READS: &str = "[{:type :invoke, :f :write, :value 1, :process 0, :time 10}
 {:type :invoke, :f :read, :value nil, :process 1, :time 20}
 {:type :ok, :f :write, :value 1, :process 0, :time 30}
 {:type :ok, :f :read, :value nil, :process 1, :time 40}
 {:type :invoke, :f :cas, :value [1 2], :process 0, :time 50}
 {:type :ok, :f :cas, :value [1 2], :process 0, :time 60}
 {:type :invoke, :f :read, :value nil, :process 1, :time 70}
 {:type :ok, :f :read, :value nil, :process 1, :time 80}
 {:type :invoke, :f :read, :value nil, :process 2, :time 90}
 {:type :ok, :f :read, :value 2, :process 2, :time 100}
 {:type :invoke, :f :cas, :value [0 3], :process 1, :time 110}
 {:type :fail, :f :cas, :value [0 3], :process 1, :time 120}
";

#[test]
fn knossos_nil_reads_match_any_value() {
    let good = format!("{KNOSSOS_NIL_READS}]");
    let (code, out, err) =
        check_text("nil.edn", good.as_bytes(), &["-m", "cas-register", "--initial", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    // A read of 1 after the read of 2 is still caught.
    let bad = format!(
        "{KNOSSOS_NIL_READS} {{:type :invoke, :f :read, :value nil, :process 2, :time 130}}
 {{:type :ok, :f :read, :value 1, :process 2, :time 140}}]"
    );
    let (code, out, err) =
        check_text("nil-bad.edn", bad.as_bytes(), &["-m", "cas-register", "--initial", "0"]);
    assert_eq!(code, 1, "{out}{err}");
}

#[test]
fn an_edn_history_is_ordered_by_position_not_time() {
    // As Knossos's rethink-fail: `:time` goes backwards once; the order is the position.
    let text = "{:type :invoke, :f :write, :value 1, :process 0, :time 500}
{:type :ok, :f :write, :value 1, :process 0, :time 600}
{:type :invoke, :f :write, :value 2, :process 1, :time 100}
{:type :ok, :f :write, :value 2, :process 1, :time 200}
{:type :invoke, :f :read, :value nil, :process 0, :time 700}
{:type :ok, :f :read, :value 1, :process 0, :time 800}
";
    let (code, out, err) = check_text("rethink.edn", text.as_bytes(), &["-m", "cas-register"]);
    // By position the write of 2 follows the write of 1, so reading 1 is a violation (by
    // `:time` it would have been fine).
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("`:time` goes backwards"), "the warning is printed: {err}");
}

#[test]
fn errors_in_a_vector_edn_file_name_the_real_line() {
    let text = "[{:type :invoke, :f :write, :value 1, :process 0}\n {:type :ok, :f :write, :value 1, :process 0}\n {:type :invoke, :f :write, :value 1, :process -4}]\n";
    let (code, _, err) = check_text("v.edn", text.as_bytes(), &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("v.edn: line 3, field `:process`"), "{err}");
}

#[test]
fn a_history_with_no_operations_is_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("empty.jsonl", ""), ("blank.jsonl", "\n\n  \n")] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let o = faultline(&["check", "--no-report", p.to_str().unwrap()], dir.path());
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(code(&o), 2, "{name}: {out}");
        // One message, never "linearizable".
        assert!(out.contains("unknown — no operations, so nothing was checked"), "{name}: {out}");
        assert!(!out.contains("linearizable"), "{name}: {out}");
        // The same verdict in --json.
        let o = faultline(&["check", "--no-report", "--json", p.to_str().unwrap()], dir.path());
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((code(&o), v["result"]["verdict"].as_str()), (2, Some("unknown")), "{v}");
        assert!(v["reason"].as_str().unwrap().contains("nothing was checked"), "{v}");
    }
    let o = faultline(&["check", "--no-report", "--format", "jsonl", "/dev/null"], dir.path());
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_run_history_is_checked_with_the_model_of_its_test_json() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let h = run.join("history.jsonl");
    let kv = |i: u64, kind: &str, f: &str, v: &str| {
        format!(
            "{{\"index\":{i},\"type\":\"{kind}\",\"process\":0,\"f\":\"{f}\",\"key\":\"k\",\"value\":{v},\"time\":{i}}}\n"
        )
    };
    let text = [
        kv(0, "invoke", "append", "\"1,\""),
        kv(1, "ok", "append", "\"1,\""),
        kv(2, "invoke", "get", "\"\""),
        kv(3, "ok", "get", "\"1,\""),
    ]
    .concat();
    std::fs::write(&h, text).unwrap();
    // Without test.json: cas-register, which has no "append"; the error says what to pass.
    let o = faultline(&["check", "--no-report", h.to_str().unwrap()], dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("pass --model"), "{err}");
    // A run's store directory: its test.json names the workload.
    std::fs::write(run.join("test.json"), r#"{"workload":"kv","nodes":3}"#).unwrap();
    let o = faultline(&["check", "--no-report", h.to_str().unwrap()], dir.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("model kv"), "{out}");
}

#[test]
fn a_wrong_format_guess_says_what_the_file_was_taken_for() {
    // A JSON array, not JSON Lines: taken for EDN by its first line, and said so.
    let (code, _, err) = check_text("h.json", br#"[{"type":"invoke","f":"read"}]"#, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read as Jepsen/Knossos EDN") && err.contains("--format"), "{err}");
}

#[test]
fn a_small_domain_counterexample_is_named_and_memory_limits_take_units() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("small.jsonl");
    // Four concurrent writes of 1 and 2, then a read of 3 that nothing wrote.
    let mut lines = String::new();
    let mut event = |i: usize, kind: &str, p: usize, f: &str, v: &str, t: usize| {
        lines.push_str(&format!(
            "{{\"index\":{i},\"type\":\"{kind}\",\"process\":{p},\"f\":\"{f}\",\"value\":{v},\"time\":{t}}}\n"
        ));
    };
    for p in 0..4 {
        event(p, "invoke", p, "write", ["1", "2"][p % 2], p);
    }
    for p in 0..4 {
        event(4 + p, "ok", p, "write", ["1", "2"][p % 2], 10 + p);
    }
    event(8, "invoke", 4, "read", "null", 20);
    event(9, "ok", 4, "read", "3", 21);
    std::fs::write(&h, lines).unwrap();
    let path = h.to_str().unwrap();
    let o = faultline(&["check", "--memory-limit", "512MiB", "--json", path], dir.path());
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let key = &v["result"]["keys"][0];
    assert_eq!(key["checker"], "invisible-value");
    let words = key["counterexample"]["explanation"].as_str().unwrap();
    assert!(words.contains("read → 3") && words.contains("needs the value 3"), "{words}");
    let checks: Vec<_> = std::fs::read_dir(dir.path().join("store/checks")).unwrap().collect();
    let html =
        std::fs::read_to_string(checks[0].as_ref().unwrap().path().join("report.html")).unwrap();
    assert!(html.contains("needs the value 3"), "the report shows the checker's words");
    // A size the parser does not know is bad usage (exit 3), saying what it expects.
    let o = faultline(&["check", "--memory-limit", "8XB", "--no-report", path], dir.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(code(&o), 3, "{err}");
    assert!(err.contains("\"8XB\" is not a size such as"), "{err}");
}

#[test]
fn transactions_exit_by_the_consistency_model() {
    let ws = repo("examples/txn-write-skew.jsonl");
    let dir = tempfile::tempdir().unwrap();
    // Write skew: not serializable, but snapshot isolated.
    let o = faultline(&["check", "--no-report", "--model", "list-append", &ws], dir.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("NOT strict-serializable") && out.contains("G2-item"), "{out}");
    assert!(out.contains("a cycle."), "the anomaly is explained: {out}");
    let si = ["check", "--no-report", "--model", "list-append", "--json"];
    let o = faultline(
        &[&si[..], &["--consistency-model", "snapshot-isolation", &ws]].concat(),
        dir.path(),
    );
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["result"]["valid"], true);
    assert_eq!(v["result"]["anomaly_types"], serde_json::json!(["G2-item"]));
    assert!(v["result"]["not"].as_array().unwrap().contains(&"serializable".into()));
    // No committed transaction: nothing checked.
    let text = ev(0, "invoke", 0, "txn", "[[\"r\",\"x\",null]]");
    let (c, _, err) = check_text("n.jsonl", text.as_bytes(), &["--model", "list-append"]);
    assert_eq!(c, 2, "{err}");
    // Bad micro-ops name the line and field; an unknown model is a usage error.
    let text = ev(0, "invoke", 0, "txn", "[[\"append\",\"x\"]]");
    let (c, _, err) = check_text("b.jsonl", text.as_bytes(), &["--model", "list-append"]);
    assert_eq!(c, 3, "{err}");
    assert!(err.contains("b.jsonl: line 1, field `value`"), "{err}");
    let (c, _, _) =
        check_text("b.jsonl", b"", &["--model", "list-append", "--consistency-model", "x"]);
    assert_eq!(c, 3);
    let (c, _, err) = check_text("b.jsonl", b"", &["--consistency-model", "serializable"]);
    assert_eq!(c, 3, "a linearizability model takes no consistency model: {err}");
}

/// Appends of "1," … "8," one after another on k0 with a get after each that sees them all,
/// except the get after "5," (op 9, on n3), which returns "1,2,3,"; and a linearizable key k1.
fn kv_stale_history() -> String {
    let mut lines = Vec::new();
    let mut t = 1_000_000u64;
    let mut i = 0u64;
    let mut push = |lines: &mut Vec<String>, p: u64, f: &str, key: &str, inv: &str, out: &str| {
        let node = if out == "\"1,2,3,\"" { "n3" } else { "n1" };
        lines.push(format!(
            r#"{{"index":{i},"type":"invoke","process":{p},"f":"{f}","key":"{key}","value":{inv},"time":{t}}}"#
        ));
        lines.push(format!(
            r#"{{"index":{},"type":"ok","process":{p},"f":"{f}","key":"{key}","value":{out},"time":{},"node":"{node}"}}"#,
            i + 1,
            t + 500_000
        ));
        i += 2;
        t += 1_000_000;
    };
    let mut seen = String::new();
    for n in 1..=8 {
        let v = format!("\"{n},\"");
        push(&mut lines, n % 3, "append", "k0", &v, &v);
        seen.push_str(&format!("{n},"));
        let got = if n == 5 { "\"1,2,3,\"".to_string() } else { format!("\"{seen}\"") };
        push(&mut lines, 3 + n % 2, "get", "k0", "null", &got);
        push(&mut lines, 5, "put", "k1", &v, &v);
    }
    lines.join("\n") + "\n"
}

#[test]
fn shrink_prints_a_smallest_failing_history_and_the_report_shows_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path().join("kv.jsonl");
    std::fs::write(&h, kv_stale_history()).unwrap();
    let h = h.display().to_string();
    let o = faultline(&["check", "--model", "kv", "--shrink", &h], dir.path());
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", String::from_utf8_lossy(&o.stderr));
    // The get, the three appends it shows and the fourth it missed: 5 of k0's 16 operations.
    assert!(out.contains(" key k0: 16 ops → 5 ops, still NOT linearizable (1-minimal;"), "{out}");
    // The missed append is "4," or "5," (either makes the case), answered by n1.
    assert!(
        out.contains(
            "The get of key k0 by client 4, answered by n3 (op 13), returned \"1,2,3,\" at 14.5 \
             ms, but the append of \""
        ) && out.contains(
            "had completed before this get began at 14 ms, and the result does not show it"
        ),
        "{out}"
    );
    let report = out.lines().find_map(|l| l.strip_prefix("  report: ")).expect("a report");
    let html = std::fs::read_to_string(dir.path().join(report)).unwrap();
    let (shrunk, timeline) = (html.find("Smallest failing history"), html.find("id=\"timeline\""));
    assert!(shrunk.is_some() && shrunk < timeline, "the smallest failing history comes first");

    // --json: the shrunk history as history lines, which check again as not linearizable.
    let o =
        faultline(&["check", "--model", "kv", "--shrink", "--json", "--no-report", &h], dir.path());
    assert_eq!(code(&o), 1);
    let lines = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(lines.lines().count(), 10, "5 operations, invoke and completion: {lines}");
    let small = dir.path().join("small.jsonl");
    std::fs::write(&small, &lines).unwrap();
    let o = faultline(
        &["check", "--model", "kv", "--no-report", &small.display().to_string()],
        dir.path(),
    );
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stdout));
}
