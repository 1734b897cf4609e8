//! Every file of Porcupine's test data (v1.3.0's `test_data`, found through
//! `$FAULTLINE_TESTDATA`, see docs/environment.md) gets the verdict its README states: the jepsen logs as single cas-registers, the kv
//! files per key and, for c01/c10, as one unpartitioned map.

use std::path::PathBuf;

use faultline_checker::formats::{read_path, Format};
use faultline_checker::{check, CheckOptions, ModelSpec, Verdict};

/// The test data directory, or `None` (with a printed reason) when it is not given. On CI
/// (`.ci/run` exports the variable) a missing directory is an error, not a skip.
fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("FAULTLINE_TESTDATA").map(PathBuf::from);
    let found = dir.filter(|d| d.join("README.md").exists());
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "Porcupine's test data not found on CI (.ci/run exports FAULTLINE_TESTDATA)"
    );
    if found.is_none() {
        eprintln!("skipping: set FAULTLINE_TESTDATA to Porcupine's test_data directory");
    }
    found
}

/// `(file, expected)` rows of the README's tables.
fn expected(data: &std::path::Path, prefix: &str) -> Vec<(String, Verdict)> {
    let readme = std::fs::read_to_string(data.join("README.md")).unwrap();
    readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let file = cells.get(1)?.strip_prefix(prefix)?;
            let last = cells.iter().rev().find(|c| !c.is_empty())?;
            let v = if last.starts_with("NOT linearizable") {
                Verdict::Illegal
            } else if last.starts_with("linearizable") {
                Verdict::Linearizable
            } else if last.starts_with("none") {
                // The empty file: nothing to check is never a pass.
                Verdict::Unknown
            } else {
                return None;
            };
            Some((format!("{prefix}{file}"), v))
        })
        .collect()
}

#[test]
fn all_103_jepsen_logs_get_the_readme_verdict() {
    let Some(data) = testdata() else { return };
    let rows = expected(&data, "jepsen/");
    assert_eq!(rows.len(), 103, "the README lists 103 jepsen files");
    let model: ModelSpec = "cas-register".parse().unwrap();
    for (file, want) in rows {
        let h = read_path(&data.join(&file), Format::Auto).unwrap();
        let r = check(&h, &model, &CheckOptions::default()).unwrap();
        assert_eq!(r.verdict, want, "{file}");
        if want == Verdict::Illegal {
            let ce = r.keys[0].counterexample.as_ref().expect("a counterexample");
            assert!(!ce.stuck.is_empty() && ce.blocking.is_some(), "{file}: {ce:?}");
        }
    }
}

#[test]
fn kv_files_per_key_and_unpartitioned() {
    let Some(data) = testdata() else { return };
    let rows = expected(&data, "kv/");
    assert_eq!(rows.len(), 6);
    for (file, want) in rows {
        let h = read_path(&data.join(&file), Format::Auto).unwrap();
        let per_key = check(&h, &ModelSpec::Kv, &CheckOptions::default()).unwrap();
        assert_eq!(per_key.verdict, want, "{file} per key");
        if file.contains("c01") || file.contains("c10") {
            let opts = CheckOptions { partition: false, ..CheckOptions::default() };
            let whole = check(&h, &ModelSpec::Kv, &opts).unwrap();
            assert_eq!(whole.verdict, want, "{file} unpartitioned");
            assert_eq!(whole.keys.len(), 1);
        }
    }
}

#[test]
fn every_c50_bad_key_is_decided_when_all_keys_are_asked_for() {
    let Some(data) = testdata() else { return };
    let h = read_path(&data.join("kv/c50-bad.txt"), Format::Auto).unwrap();
    let opts = CheckOptions { all_keys: true, ..CheckOptions::default() };
    let r = check(&h, &ModelSpec::Kv, &opts).unwrap();
    assert_eq!(r.keys.len(), 10);
    assert!(r.keys.iter().all(|k| k.verdict != Verdict::Unknown), "{:?}", r.keys);
    assert_eq!(r.verdict, Verdict::Illegal);
}

#[test]
fn witnesses_replay_through_the_model() {
    let Some(data) = testdata() else { return };
    let h = read_path(&data.join("jepsen/etcd_002.log"), Format::Auto).unwrap();
    let opts = CheckOptions { witness: true, ..CheckOptions::default() };
    let r = check(&h, &"cas-register".parse().unwrap(), &opts).unwrap();
    let w = r.keys[0].witness.as_ref().expect("witness");
    // Every op that completed ok or failed with a mismatch is in it exactly once, and the
    // order respects real time.
    let definite: Vec<usize> = h
        .ops
        .iter()
        .filter(|o| {
            o.outcome == faultline_checker::Outcome::Ok
                || o.error.as_deref() == Some("cas-mismatch")
        })
        .filter(|o| o.f != "read" || o.outcome == faultline_checker::Outcome::Ok)
        .map(|o| o.id)
        .collect();
    for id in &definite {
        assert_eq!(w.iter().filter(|x| *x == id).count(), 1, "op {id}");
    }
    for (i, a) in w.iter().enumerate() {
        for b in &w[i + 1..] {
            let (a, b) = (&h.ops[*a], &h.ops[*b]);
            assert!(
                !(b.outcome == faultline_checker::Outcome::Ok && b.ret.unwrap() < a.call),
                "{} before {}",
                a.id,
                b.id
            );
        }
    }
}

#[test]
fn bounds_give_unknown_not_a_crash() {
    let Some(data) = testdata() else { return };
    let h = read_path(&data.join("kv/c50-ok.txt"), Format::Auto).unwrap();
    let opts = CheckOptions {
        partition: false,
        time_limit: Some(std::time::Duration::from_millis(300)),
        ..CheckOptions::default()
    };
    let r = check(&h, &ModelSpec::Kv, &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.keys[0].unknown_reason, Some(faultline_checker::UnknownReason::TimeLimit));
    let opts =
        CheckOptions { partition: false, memory_limit: Some(4 << 20), ..CheckOptions::default() };
    let r = check(&h, &ModelSpec::Kv, &opts).unwrap();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert_eq!(r.keys[0].unknown_reason, Some(faultline_checker::UnknownReason::MemoryLimit));
}

/// The polynomial checkers, the certificates and the reduced search (the default) agree with
/// plain WGL on every key of Porcupine's data (every key decided: `--all-keys`); the count
/// shows how many keys something other than plain WGL decided.
#[test]
fn unique_value_checkers_agree_with_wgl_on_porcupines_data() {
    let Some(data) = testdata() else { return };
    use faultline_checker::{Decider, Uniqueness};
    let mut files: Vec<(String, ModelSpec)> = expected(&data, "jepsen/")
        .into_iter()
        .map(|(f, _)| (f, "cas-register".parse().unwrap()))
        .collect();
    files.extend(expected(&data, "kv/").into_iter().map(|(f, _)| (f, ModelSpec::Kv)));
    let mut taken = 0;
    for (file, model) in files {
        let h = read_path(&data.join(&file), Format::Auto).unwrap();
        let fast = CheckOptions { all_keys: true, ..CheckOptions::default() };
        let slow = CheckOptions { unique_values: Uniqueness::Off, ..fast.clone() };
        let (a, b) = (check(&h, &model, &fast).unwrap(), check(&h, &model, &slow).unwrap());
        for (x, y) in a.keys.iter().zip(&b.keys) {
            assert_eq!(x.verdict, y.verdict, "{file} key {:?} ({:?})", x.key, x.checker);
            taken += usize::from(x.checker != Decider::Wgl);
        }
    }
    eprintln!("{taken} keys decided by the polynomial checkers");
}
