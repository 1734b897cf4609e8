//! `faultline check --model list-append|rw-register`: transactional histories, checked for
//! isolation anomalies (`faultline_checker::txn`) against `--consistency-model`. Exit 1
//! when that model is ruled out, 0 when not, 2 when no transaction committed, 3 on bad
//! input. Transactional checks are not stored in the store yet (no report page for them).

use std::path::Path;

use anyhow::Context;
use faultline_checker::formats::{self, Format};
use faultline_checker::txn::{self, ConsistencyModel, TxnModel, TxnResult};
use faultline_checker::CheckError;
use faultline_reports::junit::{CaseOutcome, JunitCase};

use super::{write_junit, CheckArgs};
use crate::Exit;

/// Checks every file of `args` as transactions of `model`.
///
/// # Errors
/// An unknown consistency model, unreadable or malformed files (naming file, line and
/// field).
pub fn run(args: &CheckArgs, model: TxnModel) -> anyhow::Result<Exit> {
    let consistency: ConsistencyModel = match &args.consistency_model {
        Some(name) => name.parse().map_err(anyhow::Error::msg)?,
        None => ConsistencyModel::StrictSerializable,
    };
    let format: Format = args.format.parse()?;
    let (mut anomaly, mut vacuous) = (false, false);
    let mut cases = Vec::new();
    for file in &args.files {
        // Timing the check for the JUnit file.
        #[allow(clippy::disallowed_methods)]
        let began = std::time::Instant::now();
        let checked = check_file(file, format, model, consistency);
        let secs = began.elapsed().as_secs_f64();
        let result = match checked {
            Ok(r) => r,
            Err(e) => {
                cases.push(case(file, None, secs, Some(&e)));
                write_junit(args.junit.as_deref(), &cases)?;
                return Err(e);
            }
        };
        cases.push(case(file, Some(&result), secs, None));
        anomaly |= !result.valid;
        if result.is_vacuous() {
            vacuous = true;
            eprintln!(
                "{}: no transaction committed, so nothing was checked (exit 2)",
                file.display()
            );
        }
        if args.json {
            println!("{}", serde_json::json!({ "file": file, "result": result }));
        } else {
            print_summary(file, &result);
        }
    }
    write_junit(args.junit.as_deref(), &cases)?;
    Ok(if anomaly {
        Exit::Anomaly
    } else if vacuous {
        Exit::Unknown
    } else {
        Exit::Pass
    })
}

fn check_file(
    file: &Path,
    format: Format,
    model: TxnModel,
    consistency: ConsistencyModel,
) -> anyhow::Result<TxnResult> {
    let history = formats::read_path(file, format)?;
    txn::check(&history, model, consistency)
        .map_err(|error| CheckError::Parse { path: file.display().to_string(), error })
        .with_context(|| format!("checking {} as {model}", file.display()))
}

fn print_summary(file: &Path, r: &TxnResult) {
    let c = &r.counts;
    let verdict = if r.valid {
        format!("{} holds", r.consistency_model)
    } else {
        format!("NOT {}", r.consistency_model)
    };
    println!(
        "{}: {verdict} — {} txns ({} ok, {} fail, {} info), {} key(s), {} edges, model {}, {:.3}s",
        file.display(),
        c.txns,
        c.ok,
        c.fail,
        c.info,
        c.keys,
        c.edges,
        r.model,
        r.micros as f64 / 1e6
    );
    if r.anomaly_types.is_empty() {
        return;
    }
    let counts: Vec<String> = r.anomaly_counts.iter().map(|(a, n)| format!("{a} ({n})")).collect();
    println!("  anomalies: {}", counts.join(", "));
    let not: Vec<&str> = r.not.iter().map(|m| m.name()).collect();
    println!("  ruled out: {}", not.join(", "));
    for a in &r.anomaly_types {
        if let Some(f) = r.anomalies.iter().find(|f| f.anomaly == *a) {
            println!("  {a}: {}", f.explanation);
        }
    }
}

/// One file's check as a JUnit test case.
fn case(file: &Path, r: Option<&TxnResult>, secs: f64, error: Option<&anyhow::Error>) -> JunitCase {
    let outcome = match (r, error) {
        (_, Some(e)) => CaseOutcome::Error {
            message: format!("{e:#}"),
            kind: "error".into(),
            details: String::new(),
        },
        (Some(r), None) if !r.valid => CaseOutcome::Failure {
            message: format!("not {}", r.consistency_model),
            kind: "anomaly".into(),
            details: r.anomalies.first().map(|f| f.explanation.clone()).unwrap_or_default(),
        },
        (Some(r), None) if r.is_vacuous() => CaseOutcome::Error {
            message: "no transaction committed, so nothing was checked".into(),
            kind: "vacuous".into(),
            details: String::new(),
        },
        (Some(_), None) => CaseOutcome::Passed,
        (None, None) => CaseOutcome::Error {
            message: "not checked".into(),
            kind: "error".into(),
            details: String::new(),
        },
    };
    JunitCase {
        suite: "faultline check".into(),
        name: file.display().to_string(),
        classname: format!("check.{}", r.map_or("-", |r| r.model.name())),
        secs,
        outcome,
        out: None,
    }
}
