//! JUnit XML, written once for every command that gates CI: `faultline run --junit`,
//! `faultline check --junit` and campaigns' `junit.xml` (quick-junit, the writer cargo-nextest
//! uses).
//!
//! ```text
//!  [JunitCase] (suite, name, outcome, seconds) ──write_junit──▶ junit.xml
//!     one <testsuite> per distinct suite name, in first-seen order; one <testcase> per case
//! ```
//! The file validates against the JUnit schema Jenkins' xUnit plugin ships (`junit-10.xsd`):
//! that schema has no `skipped` count on `<testsuites>` (each `<testsuite>` carries its own),
//! so the writer leaves it out there.

use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// What became of one test case.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseOutcome {
    /// It met its expectation.
    Passed,
    /// It did not (an unexpected anomaly, a planted bug missed, an undecided check).
    Failure {
        /// One line.
        message: String,
        /// `anomaly`, `missed`, `unknown`, ...
        kind: String,
        /// Details: the anomaly, the report's path, the replay command.
        details: String,
    },
    /// The harness could not test it (bad setup, nothing exercised).
    Error {
        /// One line.
        message: String,
        /// `error`, `vacuous`, ...
        kind: String,
        /// Details.
        details: String,
    },
    /// Not run.
    Skipped {
        /// Why.
        message: String,
    },
}

/// One `<testcase>`.
#[derive(Debug, Clone, PartialEq)]
pub struct JunitCase {
    /// The `<testsuite>` it goes in (a campaign's system, `faultline run`, ...).
    pub suite: String,
    /// The test case's name.
    pub name: String,
    /// Its `classname` (CI tools group by it).
    pub classname: String,
    /// Seconds it took.
    pub secs: f64,
    /// The outcome.
    pub outcome: CaseOutcome,
    /// Text for `<system-out>` (the replay command, the store path).
    pub out: Option<String>,
}

/// Renders `cases` as one JUnit report named `name`.
///
/// # Errors
/// The XML writer failed (it does not, for strings).
pub fn render_junit(
    name: &str,
    cases: &[JunitCase],
) -> Result<String, quick_junit::SerializeError> {
    let mut report = Report::new(name);
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut total = 0.0;
    for c in cases {
        let idx = match suites.iter().position(|s| s.name.as_str() == c.suite) {
            Some(i) => i,
            None => {
                suites.push(TestSuite::new(c.suite.as_str()));
                suites.len() - 1
            }
        };
        let status = match &c.outcome {
            CaseOutcome::Passed => TestCaseStatus::success(),
            CaseOutcome::Failure { message, kind, details }
            | CaseOutcome::Error { message, kind, details } => {
                let k = if matches!(c.outcome, CaseOutcome::Failure { .. }) {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(k);
                s.set_message(message.as_str()).set_type(kind.as_str());
                if !details.is_empty() {
                    s.set_description(details.as_str());
                }
                s
            }
            CaseOutcome::Skipped { message } => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(message.as_str());
                s
            }
        };
        let secs = if c.secs.is_finite() { c.secs.max(0.0) } else { 0.0 };
        total += secs;
        let mut case = TestCase::new(c.name.as_str(), status);
        case.set_classname(c.classname.as_str()).set_time(Duration::from_secs_f64(secs));
        if let Some(out) = &c.out {
            case.set_system_out(out.as_str());
        }
        suites[idx].add_test_case(case);
    }
    report.add_test_suites(suites);
    report.set_time(Duration::from_secs_f64(total));
    let xml = report.to_string()?;
    Ok(strip_testsuites_skipped(&xml))
}

/// Writes [`render_junit`]'s XML to `path`.
///
/// # Errors
/// The file cannot be written.
pub fn write_junit(path: &Path, name: &str, cases: &[JunitCase]) -> std::io::Result<()> {
    let xml = render_junit(name, cases).map_err(std::io::Error::other)?;
    std::fs::write(path, xml)
}

/// Drops the `skipped="N"` attribute of the root `<testsuites>` tag (see the module docs).
fn strip_testsuites_skipped(xml: &str) -> String {
    let Some(start) = xml.find("<testsuites") else { return xml.to_string() };
    let Some(len) = xml[start..].find('>') else { return xml.to_string() };
    let tag = &xml[start..start + len];
    let Some(at) = tag.find(" skipped=\"") else { return xml.to_string() };
    let Some(close) = tag[at + 10..].find('"') else { return xml.to_string() };
    let cut = start + at..start + at + 10 + close + 1;
    format!("{}{}", &xml[..cut.start], &xml[cut.end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_counts_and_no_root_skipped() {
        let case = |suite: &str, name: &str, outcome| JunitCase {
            suite: suite.into(),
            name: name.into(),
            classname: suite.into(),
            secs: 1.5,
            outcome,
            out: Some("replay: x".into()),
        };
        let xml = render_junit(
            "c",
            &[
                case("faultline", "a", CaseOutcome::Passed),
                case("etcd", "b", CaseOutcome::Skipped { message: "budget".into() }),
                case(
                    "faultline",
                    "c",
                    CaseOutcome::Failure {
                        message: "anomaly <key k1>".into(),
                        kind: "anomaly".into(),
                        details: "report: r.html".into(),
                    },
                ),
            ],
        )
        .unwrap();
        let root = &xml[xml.find("<testsuites").unwrap()..];
        let root = &root[..root.find('>').unwrap()];
        assert!(!root.contains("skipped"), "{root}");
        assert!(root.contains("tests=\"3\"") && root.contains("failures=\"1\""), "{root}");
        assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
        assert!(xml.contains("anomaly &lt;key k1&gt;"), "{xml}");
        let back = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(back.test_suites[0].test_cases.len(), 2);
    }
}
