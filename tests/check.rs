//! `faultline check` end to end: exit codes of DESIGN.md (0, 1, 2, 3), errors that name the
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
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/porcupine");
    let c50 = data.join("kv/c50-ok.txt");
    if !c50.exists() {
        eprintln!("skipping: {} not found (the shared test data)", c50.display());
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
    assert!(out.contains("undecided") && out.contains("TimeLimit"), "{out}");
}

#[test]
fn a_history_with_no_operations_is_never_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("empty.jsonl", ""), ("blank.jsonl", "\n\n  \n")] {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let o = faultline(&["check", "--no-report", p.to_str().unwrap()], dir.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(code(&o), 2, "{name}: {err}");
        assert!(err.contains("no operations, so nothing was checked"), "{name}: {err}");
    }
    let o = faultline(&["check", "--no-report", "--format", "jsonl", "/dev/null"], dir.path());
    assert_eq!(code(&o), 2, "{}", String::from_utf8_lossy(&o.stderr));
}
