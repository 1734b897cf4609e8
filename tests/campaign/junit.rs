//! The JUnit files (campaigns, `run --junit`, `check --junit`) validated against the JUnit
//! schema of Jenkins' xUnit plugin (`junit-10.xsd`) with a real validator (`xmllint`, or
//! Python's `xmlschema`), and read back by a real JUnit consumer (Python's `junitparser`).
//! The schema is third-party data, not kept here: it is read from `$FAULTLINE_JUNIT_XSD`
//! (docs/environment.md). `.ci/run` takes it from pytest's source
//! distribution on PyPI (`testing/example_scripts/junit-10.xsd`) and exports the variable;
//! elsewhere each check skips with a printed reason when something is missing (on CI, a
//! missing schema fails).

use std::path::{Path, PathBuf};
use std::process::Command;

use faultline_reports::junit::render_junit;
use faultline_store::campaign::{
    CampaignPlan, CampaignSummary, CellResult, Expect, Outcome, PlannedCell,
};

use crate::run::util;

fn schema() -> Option<PathBuf> {
    let found = std::env::var_os("FAULTLINE_JUNIT_XSD").map(PathBuf::from).filter(|p| p.is_file());
    // CI fetches the schema (`.ci/run`): there a missing one is an error, not a skip.
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "no junit-10.xsd on CI: .ci/run exports FAULTLINE_JUNIT_XSD"
    );
    if found.is_none() {
        eprintln!(
            "skipping the schema check: no junit-10.xsd (set FAULTLINE_JUNIT_XSD to Jenkins \
             xUnit's junit-10.xsd)"
        );
    }
    found
}

/// Validates `xml` against the schema; false (with the reason printed) when it cannot.
fn validate(xml: &Path) -> bool {
    let Some(xsd) = schema() else { return false };
    if let Ok(out) =
        Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(xml).output()
    {
        assert!(
            out.status.success(),
            "{} does not validate against {}:\n{}",
            xml.display(),
            xsd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        return true;
    }
    let py = "import sys, xmlschema\nxmlschema.XMLSchema(sys.argv[1]).validate(sys.argv[2])";
    match Command::new("python3").args(["-c", py]).arg(&xsd).arg(xml).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            eprintln!(
                "skipping the schema check: neither xmllint nor Python's xmlschema is installed"
            );
            false
        }
        Ok(out) => {
            panic!("{} does not validate:\n{}", xml.display(), String::from_utf8_lossy(&out.stderr))
        }
        Err(e) => {
            eprintln!("skipping the schema check: no xmllint, no python3 ({e})");
            false
        }
    }
}

/// Per suite: (name, tests, failures, errors, skipped) as `junitparser` reads them; `None`
/// (with the reason printed) when it is not installed.
/// One suite's counts: name, tests, failures, errors, skipped.
type SuiteCounts = (String, u64, u64, u64, u64);

fn junitparser(xml: &Path) -> Option<Vec<SuiteCounts>> {
    let py = "import sys, json, junitparser\n\
              x = junitparser.JUnitXml.fromfile(sys.argv[1])\n\
              print(json.dumps([[s.name, s.tests, s.failures, s.errors, s.skipped] for s in x]))";
    let out = match Command::new("python3").args(["-c", py]).arg(xml).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipping the junitparser check: no python3 ({e})");
            return None;
        }
    };
    if String::from_utf8_lossy(&out.stderr).contains("No module named") {
        eprintln!("skipping the junitparser check: pip install junitparser");
        return None;
    }
    assert!(out.status.success(), "junitparser failed:\n{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("junitparser's counts"))
}

fn summary_with_every_outcome() -> CampaignSummary {
    let outcomes = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Missed,
        Outcome::Unknown,
        Outcome::Error,
        Outcome::Skipped,
    ];
    let mut cells = Vec::new();
    let mut results = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        let system = if i % 2 == 0 { "faultline" } else { "etcd" };
        let settings = faultline_api::RunSettings::parse_spec(
            "t",
            &format!("system = \"{system}\"\nseed = {i}"),
            false,
        )
        .unwrap();
        let cell = PlannedCell {
            index: i,
            id: format!("{system}-kv-<&\"quoted\">-s{i}"),
            origin: "matrix".into(),
            expect: Expect::Pass,
            config: settings.into_config().unwrap(),
        };
        let mut r = CellResult::error(&cell, "why \"this\" <happened> & more", Some(3), 1.25);
        r.outcome = *o;
        if *o == Outcome::Fail {
            r.anomaly = Some("key k1: read -> 3 after write 4 <stale>".into());
            r.report = Some("store/t/1/report.html".into());
        }
        cells.push(cell);
        results.push(r);
    }
    let plan = CampaignPlan { name: "every".into(), file: None, shard: None, cells };
    CampaignSummary::new(&plan, "t", results, vec!["a campaign error".into()], 9.0)
}

#[test]
fn campaign_junit_validates_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let s = summary_with_every_outcome();
    let xml =
        render_junit("faultline campaign every", &faultline_reports::campaign::junit_cases(&s))
            .unwrap();
    let path = tmp.path().join("junit.xml");
    std::fs::write(&path, &xml).unwrap();
    validate(&path);
    if let Some(suites) = junitparser(&path) {
        // faultline: pass, missed, error; etcd: fail, unknown, skipped; campaign: its error.
        let get = |n: &str| suites.iter().find(|s| s.0 == n).cloned().unwrap();
        assert_eq!(get("faultline"), ("faultline".into(), 3, 1, 1, 0));
        assert_eq!(get("etcd"), ("etcd".into(), 3, 2, 0, 1));
        assert_eq!(get("campaign"), ("campaign".into(), 1, 0, 1, 0));
    }
}

#[test]
fn check_junit_validates_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("check.xml");
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/stale-read.jsonl");
    let out = Command::new(util::faultline())
        .args(["check", "--model", "register", "--no-report", "--junit"])
        .arg(&path)
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    validate(&path);
    if let Some(suites) = junitparser(&path) {
        assert_eq!(suites, vec![("faultline check".into(), 1, 1, 0, 0)]);
    }
    // A file that cannot be read is an error case, and still exit 3.
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"x\": 1}\n").unwrap();
    let out = Command::new(util::faultline())
        .args(["check", "--no-report", "--junit"])
        .arg(&path)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    validate(&path);
    if let Some(suites) = junitparser(&path) {
        assert_eq!(suites, vec![("faultline check".into(), 1, 0, 1, 0)]);
    }
}
