//! Settings errors end with exit 3 and a message naming the file (or flag) and the field,
//! before anything is started.

use super::util;

#[test]
fn a_bad_spec_file_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "workload = \"register\"\nnodes = \"five\"\n").unwrap();
    let r = util::run(dir.path(), &["--test", spec.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains(spec.to_str().unwrap()), "{r:?}");
    assert!(r.stderr.contains("field `nodes`"), "{r:?}");
    std::fs::write(&spec, "nodes = 3\ntime-limit = 0\n").unwrap();
    let r = util::run(dir.path(), &["--test", spec.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("field `time-limit`: must be a number of seconds"), "{r:?}");
    // Values that overflow a duration or a capacity are refused where they are parsed.
    std::fs::write(&spec, "time-limit = 1e300\n").unwrap();
    let r = util::run(dir.path(), &["--test", spec.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("field `time-limit`"), "{r:?}");
    // Nothing was stored.
    assert!(!dir.path().join("latest").exists());
}

#[test]
fn bad_flags_and_missing_binaries_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = util::run(dir.path(), &["--nemesis", "partition,chaos"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("--nemesis <LIST>"), "{r:?}");
    assert!(r.stderr.contains("unknown fault \"chaos\" (expected partition, kill"), "{r:?}");
    let r = util::run(dir.path(), &["--keys", "18446744073709551615"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("command line: field `keys`"), "{r:?}");
    let r = util::run(dir.path(), &["--node-binary", "/nonexistent/faultline-node"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("faultline-node not found at /nonexistent/faultline-node"), "{r:?}");
    let r = util::run(dir.path(), &["--system", "etcd", "--unsafe-bug", "no-dedup"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("field `unsafe-bug`"), "{r:?}");
}
