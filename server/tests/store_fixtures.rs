//! A store to serve: a run's `test.json` and `results.json`, written with the types
//! `faultline run` writes them with.

use std::path::Path;

use faultline_checker::CheckResult;

/// A run's `test.json`, written with the type `faultline run` writes it with.
pub fn test_json(name: &str) -> String {
    let spec = format!(
        "name = \"{name}\"\nworkload = \"register\"\nnemesis = \"partition\"\ntime-limit = 20\nseed = 3"
    );
    let settings = faultline_api::RunSettings::parse_spec("fixture", &spec, false).unwrap();
    serde_json::to_string(&settings.into_config().unwrap()).unwrap()
}

/// A run's `results.json` (one line), written with the type `faultline run` writes it with.
pub fn results_json(test: &str, dir: &Path, verdict: faultline_checker::Verdict) -> String {
    use faultline_store::results::{RunResults, RunStats};
    let check = CheckResult {
        verdict,
        model: "register".into(),
        keys: vec![],
        counts: Default::default(),
        micros: 1,
    };
    let stats = RunStats {
        workload_secs: 20.0,
        history_secs: 20.5,
        total_secs: 21.5,
        ops_per_sec: 10.0,
        counts: Default::default(),
        history_events: 0,
        keys: 1,
        recovered: true,
        final_reads: Default::default(),
        check_secs: 0.1,
    };
    let r = RunResults {
        test: test.into(),
        dir: dir.to_path_buf(),
        verdict,
        exit_code: faultline_child::Exit::from(verdict).code(),
        seed: 3,
        replay: "faultline run --replay test.json".into(),
        anomaly: None,
        stats,
        coverage: Default::default(),
        check,
        report: None,
        shards: None,
        network: None,
    };
    serde_json::to_string(&r).unwrap()
}
