//! `faultline check`: read history files, check them, store each check with its report
//! (`store/checks/<stamp>/`: `history.path` naming the checked file — or, with
//! `--copy-history`, a copy of it — `results.json`, `report.html`), print a summary (or
//! `--json`), and exit with the verdict's code (0 linearizable, 1 not, 2 unknown, 3 error).
//! Transactional models (list-append, rw-register) are checked by `check/txn.rs`.

mod txn;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use faultline_checker::formats::{self, Format};
use faultline_checker::{
    check, CheckOptions, CheckResult, History, ModelSpec, Uniqueness, Verdict,
};
use faultline_reports::checks;
use faultline_reports::junit::{CaseOutcome, JunitCase};

use crate::Exit;

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History files (faultline JSONL, Jepsen/Knossos EDN, or Porcupine test data).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The model: register, cas-register or kv (linearizability), or list-append or
    /// rw-register (transactions, checked for isolation anomalies).
    #[arg(long, short, default_value = "cas-register")]
    pub model: String,
    /// For list-append and rw-register: the consistency model the history must satisfy
    /// (default strict-serializable).
    #[arg(long, value_name = "NAME", value_parser = consistency_models())]
    pub consistency_model: Option<String>,
    /// The file format: auto, jsonl, edn or jepsen-log.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// The register's initial value (an integer, or null).
    #[arg(long)]
    pub initial: Option<String>,
    /// Give up (exit 2) after this many seconds.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Give up (exit 2) when the search caches pass this many bytes (default: the smaller of
    /// 2 GiB and an eighth of the RAM, so a shared machine stays usable).
    #[arg(long, value_name = "BYTES")]
    pub memory_limit: Option<u64>,
    /// Assert that every write (and cas new value, and kv append) of a key writes a distinct
    /// value; a repeated one is an error (exit 3) naming the operation. Without it, keys whose
    /// values are distinct are still found and decided by the polynomial checkers.
    #[arg(long)]
    pub unique_values: bool,
    /// Keep a copy of each history in the store (by default the check records the checked
    /// file's path in `history.path` instead).
    #[arg(long)]
    pub copy_history: bool,
    /// Check the whole history as one object instead of key by key.
    #[arg(long)]
    pub no_partition: bool,
    /// Decide every key even after one is found not linearizable.
    #[arg(long)]
    pub all_keys: bool,
    /// Include a witness linearization for linearizable keys (with --json).
    #[arg(long)]
    pub witness: bool,
    /// Print one JSON object per file on stdout instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Also write the verdicts as a JUnit XML file (one test case per history file).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// The store: each check is kept under `<store>/checks/<stamp>/` with its report.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Do not store the check or write a report.
    #[arg(long)]
    pub no_report: bool,
}

/// The values of `--consistency-model`, from the checker's one table of names.
fn consistency_models() -> clap::builder::PossibleValuesParser {
    use faultline_checker::txn::ConsistencyModel;
    clap::builder::PossibleValuesParser::new(ConsistencyModel::ALL.iter().map(|m| m.name()))
}

impl CheckArgs {
    fn options(&self) -> CheckOptions {
        let mut o = CheckOptions {
            partition: !self.no_partition,
            time_limit: self.time_limit.map(Duration::from_secs_f64),
            all_keys: self.all_keys,
            witness: self.witness,
            unique_values: if self.unique_values {
                Uniqueness::Require
            } else {
                Uniqueness::Detect
            },
            ..CheckOptions::default()
        };
        if self.memory_limit.is_some() {
            o.memory_limit = self.memory_limit;
        }
        o
    }
}

/// Runs `faultline check`.
///
/// # Errors
/// Bad usage, unreadable or malformed files (naming file, line and field).
pub fn run(args: CheckArgs) -> anyhow::Result<Exit> {
    if let Ok(model) = args.model.parse::<faultline_checker::txn::TxnModel>() {
        return txn::run(&args, model);
    }
    anyhow::ensure!(
        args.consistency_model.is_none(),
        "--consistency-model applies to the list-append and rw-register models only"
    );
    let mut model: ModelSpec = args.model.parse()?;
    if let Some(init) = &args.initial {
        model = model.with_initial(init)?;
    }
    let format: Format = args.format.parse()?;
    if let Some(t) = args.time_limit {
        anyhow::ensure!(
            t > 0.0 && t.is_finite(),
            "--time-limit must be a positive number of seconds"
        );
    }
    let opts = args.options();
    let mut overall = Verdict::Linearizable;
    let mut cases = Vec::new();
    for file in &args.files {
        // Timing the check for the JUnit file.
        #[allow(clippy::disallowed_methods)]
        let began = std::time::Instant::now();
        let checked = formats::read_path(file, format).map_err(anyhow::Error::from).and_then(|h| {
            let r =
                check(&h, &model, &opts).with_context(|| format!("checking {}", file.display()))?;
            Ok((h, r))
        });
        let secs = began.elapsed().as_secs_f64();
        let (history, result) = match checked {
            Ok(x) => x,
            Err(e) => {
                cases.push(junit_case(file, None, secs, Some(&e)));
                write_junit(args.junit.as_deref(), &cases)?;
                return Err(e);
            }
        };
        cases.push(junit_case(file, Some(&result), secs, None));
        // A history with no operations checked nothing: never a pass.
        let empty = result.counts.ops == 0;
        overall = overall.combine(if empty { Verdict::Unknown } else { result.verdict });
        if empty {
            eprintln!("{}: no operations, so nothing was checked (exit 2)", file.display());
        }
        let report =
            if args.no_report { None } else { Some(store_check(&args, file, &history, &result)?) };
        if args.json {
            let out = serde_json::json!({ "file": file, "result": result, "report": report });
            println!("{out}");
        } else {
            print_summary(file, &history, &result);
            if let Some(r) = report {
                println!("  report: {}", r.display());
            }
        }
    }
    write_junit(args.junit.as_deref(), &cases)?;
    Ok(match overall {
        Verdict::Linearizable => Exit::Pass,
        Verdict::Illegal => Exit::Anomaly,
        Verdict::Unknown => Exit::Unknown,
    })
}

/// Keeps the check in the store: the history's path (or a copy), `results.json` and
/// `report.html`.
fn store_check(
    args: &CheckArgs,
    file: &std::path::Path,
    history: &History,
    result: &CheckResult,
) -> anyhow::Result<PathBuf> {
    // The wall clock names the store directory.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let (id, dir) = checks::create_check_dir(&args.store, now)
        .with_context(|| format!("creating a check directory in {}", args.store.display()))?;
    let source = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    if args.copy_history {
        let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("jsonl");
        let copy = dir.join(format!("history.{ext}"));
        std::fs::copy(file, &copy)
            .with_context(|| format!("copying {} to {}", file.display(), copy.display()))?;
    } else {
        let at = dir.join("history.path");
        std::fs::write(&at, format!("{}\n", source.display()))
            .with_context(|| format!("writing {}", at.display()))?;
    }
    let mut command = format!("faultline check --model {}", args.model);
    for (flag, on) in [
        (" --no-partition", args.no_partition),
        (" --all-keys", args.all_keys),
        (" --unique-values", args.unique_values),
    ] {
        if on {
            command.push_str(flag);
        }
    }
    if let Some(init) = &args.initial {
        command.push_str(&format!(" --initial {init}"));
    }
    command.push_str(&format!(" {}", source.display()));
    Ok(checks::write_check(&dir, &id, history, result, "cli", command)?)
}

fn print_summary(file: &std::path::Path, h: &History, r: &CheckResult) {
    let c = &r.counts;
    let secs = r.micros as f64 / 1e6;
    let words = match r.verdict {
        Verdict::Linearizable => "linearizable",
        Verdict::Illegal => "NOT linearizable",
        Verdict::Unknown => "unknown (not decided)",
    };
    println!(
        "{}: {words} — {} ops ({} ok, {} fail, {} info), {} key(s), model {}, {secs:.3}s",
        file.display(),
        c.ops,
        c.ok,
        c.fail,
        c.info,
        r.keys.len(),
        r.model
    );
    if let Some(k) = r.first_illegal() {
        if let Some(ce) = &k.counterexample {
            let key = k.key.as_deref().map(|k| format!("key {k:?}: ")).unwrap_or_default();
            if let Some(op) = ce.blocking.and_then(|id| h.ops.get(id)) {
                let shown = if op.input.is_null() {
                    format!("{} → {}", op.f, op.output)
                } else {
                    format!("{} {} → {}", op.f, op.input, op.output)
                };
                println!(
                    "  first anomaly: {key}{shown} by process {} (history index {})",
                    op.process,
                    op.complete_index.unwrap_or(op.invoke_index)
                );
            }
            println!("  {}", ce.explanation);
        }
    }
    let undecided: Vec<String> = r
        .undecided()
        .map(|k| {
            format!(
                "{} ({})",
                k.key.as_deref().unwrap_or("<all>"),
                k.unknown_reason.map_or("?".into(), |u| format!("{u:?}"))
            )
        })
        .collect();
    if !undecided.is_empty() && r.verdict == Verdict::Unknown {
        println!("  undecided: {}", undecided.join(", "));
    } else if !undecided.is_empty() {
        println!(
            "  {} other key(s) not decided: the check stopped at the first anomaly (--all-keys decides all)",
            undecided.len()
        );
    }
}

/// One history file's check as a JUnit test case.
fn junit_case(
    file: &std::path::Path,
    result: Option<&CheckResult>,
    secs: f64,
    error: Option<&anyhow::Error>,
) -> JunitCase {
    let details = String::new();
    let outcome = match (result, error) {
        (_, Some(e)) => {
            CaseOutcome::Error { message: format!("{e:#}"), kind: "error".into(), details }
        }
        (Some(r), None) if r.counts.ops == 0 => CaseOutcome::Error {
            message: "no operations, so nothing was checked".into(),
            kind: "vacuous".into(),
            details,
        },
        (Some(r), None) => match r.verdict {
            Verdict::Linearizable => CaseOutcome::Passed,
            Verdict::Illegal => {
                let key = r.first_illegal();
                let why =
                    key.and_then(|k| k.counterexample.as_ref()).map(|c| c.explanation.clone());
                CaseOutcome::Failure {
                    message: format!(
                        "not linearizable (key {})",
                        key.and_then(|k| k.key.as_deref()).unwrap_or("-")
                    ),
                    kind: "anomaly".into(),
                    details: why.unwrap_or_default(),
                }
            }
            Verdict::Unknown => CaseOutcome::Failure {
                message: "undecided: the checker hit its time or memory bound".into(),
                kind: "unknown".into(),
                details,
            },
        },
        (None, None) => {
            CaseOutcome::Error { message: "not checked".into(), kind: "error".into(), details }
        }
    };
    JunitCase {
        suite: "faultline check".into(),
        name: file.display().to_string(),
        classname: format!("check.{}", result.map_or("-", |r| r.model.as_str())),
        secs,
        outcome,
        out: None,
    }
}

fn write_junit(path: Option<&std::path::Path>, cases: &[JunitCase]) -> anyhow::Result<()> {
    let Some(path) = path else { return Ok(()) };
    faultline_reports::junit::write_junit(path, "faultline check", cases)
        .with_context(|| format!("writing the JUnit file {}", path.display()))
}
