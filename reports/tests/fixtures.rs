//! Shared helpers: histories from Porcupine's test data, checked by the real checker.

use std::path::PathBuf;

use faultline_checker::formats::{self, Format};
use faultline_checker::{check, CheckOptions, CheckResult, History, ModelSpec};

/// A file of Porcupine's test data: under `$FAULTLINE_TESTDATA` (docs/environment.md), as
/// the checker's tests read it; a path that does not exist when the variable is not set.
pub fn porcupine(rel: &str) -> PathBuf {
    std::env::var_os("FAULTLINE_TESTDATA").map(PathBuf::from).unwrap_or_default().join(rel)
}

/// Reads and checks a file; `None` (with a printed reason) when the test data is absent.
pub fn checked(rel: &str, model: &str) -> Option<(History, CheckResult)> {
    let path = porcupine(rel);
    if !path.exists() {
        eprintln!("skipping: {} not found (set FAULTLINE_TESTDATA)", path.display());
        return None;
    }
    let history = formats::read_path(&path, Format::Auto).expect("test data parses");
    let model: ModelSpec = model.parse().expect("model");
    let result = check(&history, &model, &CheckOptions::default()).expect("check");
    Some((history, result))
}

/// A JSONL history: a write of 1 completes, then a write of 2 completes, then a read returns
/// 1 (a stale read), with a partition around it.
pub const STALE_READ_JSONL: &str = r#"{"index":0,"type":"invoke","process":0,"f":"write","key":"k7","value":1,"time":1000000}
{"index":1,"type":"ok","process":0,"f":"write","key":"k7","value":1,"time":2000000}
{"index":2,"type":"info","process":"nemesis","f":"start-partition","value":{"groups":[["n1","n2"],["n3","n4","n5"]]},"time":2500000}
{"index":3,"type":"invoke","process":1,"f":"write","key":"k7","value":2,"time":3000000}
{"index":4,"type":"ok","process":1,"f":"write","key":"k7","value":2,"time":4000000}
{"index":5,"type":"invoke","process":2,"f":"read","key":"k7","value":null,"time":5000000}
{"index":6,"type":"ok","process":2,"f":"read","key":"k7","value":1,"time":6000000}
{"index":7,"type":"info","process":"nemesis","f":"stop-partition","value":{},"time":7000000}
"#;
