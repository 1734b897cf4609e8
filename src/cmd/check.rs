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
use faultline_checker::shrink;
use faultline_checker::{
    check, CheckOptions, CheckResult, History, ModelSpec, Uniqueness, UnknownReason, Verdict,
    NOTHING_CHECKED,
};
use faultline_reports::checks;
use faultline_reports::explain::{explain_shrunk, fmt_time};
use faultline_reports::junit::{CaseOutcome, JunitCase};
use faultline_store::layout::create_check_dir;

use crate::Exit;

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History files (faultline JSONL, Jepsen/Knossos EDN, or Porcupine test data).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The model: register, cas-register or kv (linearizability), or list-append or
    /// rw-register (transactions, checked for isolation anomalies) [default: the workload of
    /// the `test.json` beside the history (a run's store directory), else cas-register].
    #[arg(long, short)]
    pub model: Option<String>,
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
    /// Give up (exit 2) after this many seconds (at most a week).
    #[arg(long, value_name = "S", value_parser = time_limit)]
    pub time_limit: Option<Duration>,
    /// Give up (exit 2) when the search caches pass this size: bytes, or with a unit (`512MiB`,
    /// `8GiB`, `2GB`; default: the smaller of 2 GiB and an eighth of the RAM, so a shared
    /// machine stays usable).
    #[arg(long, value_name = "SIZE", value_parser = parse_bytes)]
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
    /// Print one JSON object per file on stdout instead of the summary (with --shrink: the
    /// smallest failing history, as history JSON lines).
    #[arg(long)]
    pub json: bool,
    /// For a history that is not linearizable, find a smallest sub-history of each failing
    /// key that still is not (operations removed while every write a kept read saw stays) and
    /// print it: a summary and its explanation, or with --json its events as JSON lines. The
    /// report shows it either way.
    #[arg(long)]
    pub shrink: bool,
    /// The time --shrink (and the report's smallest failing history) may take, in seconds
    /// [default: 10].
    #[arg(long, value_name = "S", value_parser = time_limit)]
    pub shrink_budget: Option<Duration>,
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

/// The model `file` is checked against: `--model`, else the workload recorded in the
/// `test.json` beside it (a run's store directory), else cas-register; `--initial` applied.
fn model_for(args: &CheckArgs, file: &std::path::Path) -> anyhow::Result<ModelSpec> {
    let name = match &args.model {
        Some(m) => m.clone(),
        None => recorded_workload(file).unwrap_or_else(|| "cas-register".into()),
    };
    let mut model: ModelSpec = name.parse()?;
    if let Some(init) = &args.initial {
        model = model.with_initial(init)?;
    }
    Ok(model)
}

/// The `workload` of the run whose `test.json` sits beside `file`, if there is one.
fn recorded_workload(file: &std::path::Path) -> Option<String> {
    let test = file.parent()?.join("test.json");
    let meta = std::fs::metadata(&test).ok()?;
    // A run's test.json is small; anything large is not one.
    if meta.len() > 1 << 20 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&test).ok()?).ok()?;
    let w = v.get("workload")?.as_str()?;
    w.parse::<ModelSpec>().is_ok().then(|| w.to_string())
}

/// The longest `--time-limit`: a week, as a run's.
const MAX_TIME_LIMIT_SECS: f64 = 7.0 * 86400.0;

/// `--time-limit`: seconds, finite, positive, at most [`MAX_TIME_LIMIT_SECS`].
fn time_limit(s: &str) -> Result<Duration, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    faultline_api::layered::checks::seconds(MAX_TIME_LIMIT_SECS)(&v)?;
    Duration::try_from_secs_f64(v).map_err(|e| e.to_string())
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
            time_limit: self.time_limit,
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

/// Units of [`parse_bytes`], longest first so `MiB` is not read as `B`.
const UNITS: [(&str, u64); 9] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("b", 1),
];

/// A size: plain bytes (`1073741824`) or a number with a unit, `KiB` `MiB` `GiB` `TiB`
/// (powers of 1024), `KB` `MB` `GB` `TB` (powers of 1000) or `B`, in any case, with an optional
/// space and fraction (`1.5GiB`). Zero is refused: a check could not do anything.
///
/// # Errors
/// Anything else, and sizes past `u64::MAX` bytes.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{:?} is not a size such as 536870912, 512MiB, 8GiB or 2GB",
            faultline_api::cut(s, 40)
        )
    };
    let t = s.trim();
    if t.is_empty() || t.len() > 40 {
        return Err(bad());
    }
    let lower = t.to_ascii_lowercase();
    let (number, unit) = match UNITS.iter().find(|(u, _)| lower.ends_with(u)) {
        Some(&(u, mult)) => (lower[..lower.len() - u.len()].trim_end(), mult),
        None => (lower.as_str(), 1),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad());
    }
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let mut bytes = whole.checked_mul(unit).ok_or_else(bad)?;
    if !frac.is_empty() {
        // Exactly, rounded down to a byte: at most 18 digits, so 10^digits fits.
        if frac.len() > 18 {
            return Err(bad());
        }
        let f: u128 = frac.parse().map_err(|_| bad())?;
        let part = u128::from(unit) * f / 10u128.pow(frac.len() as u32);
        bytes = bytes.checked_add(u64::try_from(part).map_err(|_| bad())?).ok_or_else(bad)?;
    }
    if bytes == 0 {
        return Err(bad());
    }
    Ok(bytes)
}

/// Runs `faultline check`.
///
/// # Errors
/// Bad usage, unreadable or malformed files (naming file, line and field).
pub fn run(args: CheckArgs) -> anyhow::Result<Exit> {
    let txn_model =
        args.model.as_deref().and_then(|m| m.parse::<faultline_checker::txn::TxnModel>().ok());
    if let Some(model) = txn_model {
        return txn::run(&args, model);
    }
    anyhow::ensure!(
        args.consistency_model.is_none(),
        "--consistency-model applies to the list-append and rw-register models only"
    );
    let format: Format = args.format.parse()?;
    let opts = args.options();
    let mut overall = Verdict::Linearizable;
    let mut cases = Vec::new();
    for file in &args.files {
        // Timing the check for the JUnit file.
        #[allow(clippy::disallowed_methods)]
        let began = std::time::Instant::now();
        let model = model_for(&args, file)?;
        let checked = formats::read_path(file, format).map_err(anyhow::Error::from).and_then(|h| {
            let r = check(&h, &model, &opts).with_context(|| {
                let hint = if args.model.is_none() {
                    format!(" with the {} model (pass --model to choose another)", model.name())
                } else {
                    String::new()
                };
                format!("checking {}{hint}", file.display())
            })?;
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
        // A history with no operations is Unknown (the checker says so): never a pass.
        overall = overall.combine(result.verdict);
        let shrunk = if result.verdict == Verdict::Illegal && (args.shrink || !args.no_report) {
            let budget = args.shrink_budget.unwrap_or(shrink::DEFAULT_BUDGET);
            shrink::shrink(&history, &model, &result, &opts, budget)
                .with_context(|| format!("shrinking {}", file.display()))?
        } else {
            Vec::new()
        };
        let report = if args.no_report {
            None
        } else {
            Some(store_check(&args, file, &history, &result, &shrunk)?)
        };
        if args.shrink {
            print_shrunk(file, &history, &shrunk, args.json)?;
            if !args.json {
                if let Some(r) = &report {
                    println!("  report: {}", r.display());
                }
            }
            continue;
        }
        if args.json {
            let mut out = serde_json::json!({ "file": file, "result": result, "report": report });
            if result.nothing_checked() {
                out["reason"] = NOTHING_CHECKED.into();
            }
            println!("{out}");
        } else {
            print_summary(file, &history, &result);
            if let Some(r) = report {
                println!("  report: {}", r.display());
            }
        }
    }
    write_junit(args.junit.as_deref(), &cases)?;
    Ok(Exit::from(overall))
}

/// Keeps the check in the store: the history's path (or a copy), `results.json` and
/// `report.html`.
fn store_check(
    args: &CheckArgs,
    file: &std::path::Path,
    history: &History,
    result: &CheckResult,
    shrunk: &[shrink::Shrunk],
) -> anyhow::Result<PathBuf> {
    // The wall clock names the store directory.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let (id, dir) = create_check_dir(&args.store, now)
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
    let mut command = format!("faultline check --model {}", result.model);
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
    Ok(checks::write_check_shrunk(&dir, &id, history, result, "cli", command, shrunk)?)
}

/// `--shrink`'s output for one file: with `json`, the events of every shrunk key as history
/// JSON lines (one history, checkable again); else per key the sizes before and after and the
/// explanation of the shrunk history. A reader that goes away (`| head`) ends the output.
fn print_shrunk(
    file: &std::path::Path,
    history: &History,
    shrunk: &[shrink::Shrunk],
    json: bool,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut out = String::new();
    if json {
        let mut ids: Vec<usize> = shrunk.iter().flat_map(|s| s.ids.iter().copied()).collect();
        ids.sort_unstable();
        for e in shrink::sub_history(history, &ids).to_events() {
            writeln!(out, "{}", serde_json::to_string(&e)?)?;
        }
    } else if shrunk.is_empty() {
        writeln!(out, "{}: nothing to shrink (no key was found not linearizable)", file.display())?;
    }
    for s in shrunk.iter().filter(|_| !json) {
        let key = s.key.as_deref().map(|k| format!(" key {k}")).unwrap_or_default();
        let how = if s.minimal { "1-minimal" } else { "time budget spent, maybe not minimal" };
        writeln!(
            out,
            "{}{key}: {} ops → {} ops, still NOT linearizable ({how}; {} checks in {:.3} s)",
            file.display(),
            s.before,
            s.ids.len(),
            s.checks,
            s.micros as f64 / 1e6
        )?;
        if let Some(k) = s.result.first_illegal() {
            writeln!(out, "  {}", explain_shrunk(&s.history, k, &s.ids).text)?;
        }
        for o in &s.history.ops {
            let shown =
                if o.output.is_null() { String::new() } else { format!(" → {}", o.output) };
            let ret = o.ret.map_or("never".to_string(), fmt_time);
            writeln!(
                out,
                "  op {:>6}  client {:<4} {} {}{shown}  [{}..{}] {:?}{}",
                s.ids[o.id],
                o.process,
                o.f,
                o.input,
                fmt_time(o.call),
                ret,
                o.outcome,
                o.served().map(|n| format!(" via {n}")).unwrap_or_default()
            )?;
        }
    }
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn print_summary(file: &std::path::Path, h: &History, r: &CheckResult) {
    if r.nothing_checked() {
        println!("{}: unknown — {NOTHING_CHECKED} (exit 2)", file.display());
        return;
    }
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
                k.unknown_reason.map_or("?", UnknownReason::describe)
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
        (Some(r), None) if r.nothing_checked() => {
            CaseOutcome::Error { message: NOTHING_CHECKED.into(), kind: "vacuous".into(), details }
        }
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

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_take_units() {
        #[rustfmt::skip]
        let good = [
            ("1073741824", 1 << 30),
            ("8GiB",       8 << 30),
            ("512MiB",     512 << 20),
            ("512 mib",    512 << 20),
            ("2GB",        2_000_000_000),
            ("1.5GiB",     3 << 29),
            ("0.5KiB",     512),
            (" 64KB ",     64_000),
            ("100B",       100),
            ("1TiB",       1 << 40),
        ];
        for (text, want) in good {
            assert_eq!(parse_bytes(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_what_is_expected() {
        for text in [
            "",
            "GiB",
            "0",
            "0MiB",
            "-1",
            "8 GiBs",
            "8XB",
            "1.2.3GiB",
            ".",
            "1e9",
            "99999999999999999999",
            "20000000000GiB",
            &"9".repeat(50),
        ] {
            let err = parse_bytes(text).unwrap_err();
            assert!(err.contains("is not a size such as 536870912, 512MiB, 8GiB"), "{text}: {err}");
        }
    }
}
