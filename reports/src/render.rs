//! Rendering a report: history + check result (+ configuration, logs) -> one self-contained
//! HTML page. Pure apart from reading node logs when [`ReportInput::node_logs`] is set.
//!
//! ```text
//!  ReportInput ─┬─ summary (verdict words, counts per kind, per-key table)
//!               ├─ explain::explain per illegal key
//!               ├─ nemesis::intervals ─┬─ timeline::build ──▶ JSON for the <canvas> script
//!               │                      ├─ plots::draw ──────▶ inline SVG (ownership::spans
//!               │                      │                      for the sharded KV)
//!               │                      └─ logs::excerpts ───▶ per-node lines around faults
//!               └──────────────────────────▶ minijinja "report.html" (CSS and JS inlined)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faultline_checker::{CheckResult, Decider, Outcome, UnknownReason, Verdict};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::error::ReportError;
use crate::explain::{explain, explain_shrunk, faults_during, fmt_time};
use crate::input::ReportInput;
use crate::{logs, nemesis, plots, timeline};

/// The stylesheet every page inlines (reports, the campaign pages, the server's pages).
pub const CSS: &str = include_str!("../assets/report.css");
const JS: &str = include_str!("../assets/report.js");
/// Most rows of the per-key table (illegal and unknown keys come first).
const MAX_KEY_ROWS: usize = 200;
/// Most explained violations.
const MAX_EXPLAINED: usize = 5;

/// The template environment shared by reports and the server's pages.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // The templates are compiled into the binary; a syntax error is caught by every test.
    for (name, src) in [
        ("base.html", include_str!("../templates/base.html")),
        ("report.html", include_str!("../templates/report.html")),
        ("index.html", include_str!("../templates/index.html")),
        ("test.html", include_str!("../templates/test.html")),
        ("files.html", include_str!("../templates/files.html")),
        ("campaign.html", include_str!("../templates/campaign.html")),
        ("campaigns.html", include_str!("../templates/campaigns.html")),
    ] {
        if let Err(e) = env.add_template(name, src) {
            panic!("template {name} does not parse: {e:#}");
        }
    }
    env
}

/// Counts of one operation kind.
#[derive(Debug, Default, Serialize)]
struct KindCounts {
    f: String,
    ok: usize,
    fail: usize,
    info: usize,
    total: usize,
}

#[derive(Debug, Serialize)]
struct KeyRow {
    key: String,
    verdict: Verdict,
    note: String,
    /// The algorithm that decided the key (none for a key never searched).
    checker: Option<Decider>,
    ops: usize,
    searched: usize,
    micros: u64,
}

/// One operation of a smallest failing history, for its table.
#[derive(Debug, Serialize)]
struct ShrunkOp {
    /// The id in the full history (as the timeline's tooltips show it).
    id: usize,
    process: u64,
    f: String,
    input: String,
    output: String,
    outcome: &'static str,
    call: String,
    ret: String,
    node: String,
}

/// A smallest failing history of one key, with its explanation.
#[derive(Debug, Serialize)]
struct ShrunkView {
    key: String,
    before: usize,
    ops: Vec<ShrunkOp>,
    minimal: bool,
    text: String,
    millis: u64,
}

fn shrunk_views(input: &ReportInput<'_>, faults: &[nemesis::Interval]) -> Vec<ShrunkView> {
    let value = |v: &serde_json::Value| match v {
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    input
        .shrunk
        .iter()
        .map(|s| {
            let e = s
                .result
                .first_illegal()
                .map(|k| explain_shrunk(&s.history, k, &s.ids))
                .unwrap_or_default();
            let text = match e.window {
                Some(w) => format!("{} {}", e.text, faults_during(faults, w)),
                None => e.text,
            };
            let ops = s
                .history
                .ops
                .iter()
                .zip(&s.ids)
                .map(|(o, &id)| ShrunkOp {
                    id,
                    process: o.process,
                    f: o.f.clone(),
                    input: value(&o.input),
                    output: value(&o.output),
                    outcome: match o.outcome {
                        Outcome::Ok => "ok",
                        Outcome::Fail => "fail",
                        Outcome::Unknown => "info",
                    },
                    call: fmt_time(o.call),
                    ret: o.ret.map(fmt_time).unwrap_or_default(),
                    node: o.served().unwrap_or_default(),
                })
                .collect();
            ShrunkView {
                key: s.key.clone().unwrap_or_default(),
                before: s.before,
                ops,
                minimal: s.minimal,
                text,
                millis: s.micros / 1000,
            }
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct Explained {
    key: String,
    text: String,
    checker: String,
    blocking: Option<usize>,
}

/// `(css class, words, sentence)` describing the verdict.
fn headline(result: &CheckResult) -> (&'static str, &'static str, String) {
    let keys = result.keys.len();
    let ops = result.counts.ops;
    if result.nothing_checked() {
        let why = faultline_checker::NOTHING_CHECKED;
        return ("unknown", "Unknown: nothing was checked", format!("The history has {why}."));
    }
    match result.verdict {
        Verdict::Linearizable => (
            "ok",
            "Linearizable: no anomaly found",
            format!(
                "All {ops} operations{} fit one order that respects real time and the {} model.",
                if keys > 1 { format!(" on {keys} keys") } else { String::new() },
                result.model
            ),
        ),
        Verdict::Illegal => {
            let bad: Vec<String> = result
                .keys
                .iter()
                .filter(|k| k.verdict == Verdict::Illegal)
                .map(|k| k.key.clone().unwrap_or_else(|| "the history".into()))
                .collect();
            let first = bad.first().cloned().unwrap_or_else(|| "the history".into());
            let more = if bad.len() > 1 {
                format!(" (and {} other keys)", bad.len() - 1)
            } else {
                String::new()
            };
            (
                "bad",
                "Not linearizable: an anomaly was found",
                format!(
                    "{}{more} has no order consistent with real time and the {} model. The \
                     operations that cannot be placed are outlined in red on the timeline; the \
                     explanation below says why.",
                    if first == "the history" {
                        "The history".to_string()
                    } else {
                        format!("Key {first}")
                    },
                    result.model
                ),
            )
        }
        Verdict::Unknown => {
            let und: Vec<String> = result
                .undecided()
                .map(|k| k.unknown_reason.map_or("undecided", UnknownReason::describe))
                .map(str::to_string)
                .collect();
            let mut reasons = und.clone();
            reasons.sort();
            reasons.dedup();
            (
                "unknown",
                "Unknown: the checker could not decide",
                format!(
                    "{} of {keys} keys were left undecided ({}); no anomaly was found in the others.",
                    und.len(),
                    reasons.join(", ")
                ),
            )
        }
    }
}

fn kind_counts(input: &ReportInput<'_>) -> (Vec<KindCounts>, KindCounts) {
    let mut by: BTreeMap<&str, KindCounts> = BTreeMap::new();
    let mut total = KindCounts { f: "all".into(), ..KindCounts::default() };
    for op in &input.history.ops {
        let c = by
            .entry(op.f.as_str())
            .or_insert_with(|| KindCounts { f: op.f.clone(), ..KindCounts::default() });
        for c in [c, &mut total] {
            match op.outcome {
                Outcome::Ok => c.ok += 1,
                Outcome::Fail => c.fail += 1,
                Outcome::Unknown => c.info += 1,
            }
            c.total += 1;
        }
    }
    (by.into_values().collect(), total)
}

fn key_rows(result: &CheckResult) -> (Vec<KeyRow>, usize) {
    let mut rows: Vec<KeyRow> = result
        .keys
        .iter()
        .map(|k| KeyRow {
            key: k.key.clone().unwrap_or_else(|| "(all)".into()),
            verdict: k.verdict,
            note: match (k.verdict, k.unknown_reason) {
                (Verdict::Unknown, Some(u)) => format!("({})", u.describe()),
                _ => String::new(),
            },
            checker: (k.unknown_reason != Some(UnknownReason::Cancelled)).then_some(k.checker),
            ops: k.ops,
            searched: k.searched_ops,
            micros: k.stats.micros,
        })
        .collect();
    let rank = |v: Verdict| match v {
        Verdict::Illegal => 0,
        Verdict::Unknown => 1,
        Verdict::Linearizable => 2,
    };
    rows.sort_by(|a, b| rank(a.verdict).cmp(&rank(b.verdict)).then(natural(&a.key, &b.key)));
    let hidden = rows.len().saturating_sub(MAX_KEY_ROWS);
    rows.truncate(MAX_KEY_ROWS);
    (rows, hidden)
}

/// Renders the report as one HTML string.
///
/// # Errors
/// [`ReportError::Template`], [`ReportError::Plot`] or [`ReportError::Json`] on a bug; node
/// logs that cannot be read are left out, not errors.
///
/// # Examples
/// ```
/// use faultline_checker::{CheckResult, Counts, History, Verdict};
/// use faultline_reports::{render_report, ReportInput};
/// let history = History::default();
/// let result = CheckResult {
///     verdict: Verdict::Linearizable,
///     model: "register".into(),
///     keys: vec![],
///     counts: Counts::default(),
///     micros: 0,
/// };
/// let html = render_report(&ReportInput::new("empty", &history, &result)).unwrap();
/// // A history without operations is never shown as a pass.
/// assert!(html.contains("nothing was checked"));
/// ```
pub fn render_report(input: &ReportInput<'_>) -> Result<String, ReportError> {
    let result = input.result;
    let end = timeline::history_end(input.history);
    let faults = nemesis::intervals(&input.history.nemesis, end);
    let data = timeline::build(input.history, result, &faults);
    let anomaly = result
        .first_illegal()
        .and_then(|k| k.counterexample.as_ref())
        .and_then(|c| c.blocking)
        .and_then(|id| input.history.ops.get(id))
        .map(|op| op.ret.unwrap_or(op.call));
    let plots = plots::draw(input.history, &faults, end, anomaly)?;
    let (kinds, total) = kind_counts(input);
    let (keys, hidden_keys) = key_rows(result);
    let (verdict_class, verdict_words, verdict_sentence) = headline(result);
    let mut data = data;
    let explained: Vec<Explained> = result
        .keys
        .iter()
        .filter(|k| k.counterexample.is_some())
        .take(MAX_EXPLAINED)
        .map(|k| {
            let e = explain(input.history, k);
            data.related.extend(e.related);
            // The faults while the operations named ran; without any named, at the completion
            // of the op that could not go next.
            let at = k
                .counterexample
                .as_ref()
                .and_then(|c| c.blocking)
                .and_then(|id| input.history.ops.get(id))
                .map(|op| op.ret.unwrap_or(op.call));
            let text = match (e.window, at) {
                (Some(w), _) => format!("{} {}", e.text, faults_during(&faults, w)),
                (None, Some(t)) => format!("{} {}", e.text, nemesis::active_at(&faults, t)),
                (None, None) => e.text,
            };
            (k, text)
        })
        .map(|(k, text)| Explained {
            key: k.key.clone().unwrap_or_default(),
            text,
            checker: k.counterexample.as_ref().map(|c| c.explanation.clone()).unwrap_or_default(),
            blocking: k.counterexample.as_ref().and_then(|c| c.blocking),
        })
        .collect();
    let shrunk = shrunk_views(input, &faults);
    let (node_logs, fault_logs) = match &input.node_logs {
        Some(dir) => logs::excerpts(dir, &input.node_logs_href, &faults, input.start_unix_ns),
        None => (Vec::new(), Vec::new()),
    };
    let config = input.config.map(serde_json::to_string_pretty).transpose()?;
    let fault_rows: Vec<_> = faults
        .iter()
        .map(|f| {
            context! { kind => f.kind, label => f.label, start => fmt_time(f.start),
            end => fmt_time(f.end), skipped => f.skipped }
        })
        .collect();
    let env = environment();
    let html = env.get_template("report.html")?.render(context! {
        title => input.title,
        css => CSS,
        js => JS,
        verdict => result.verdict,
        verdict_class,
        verdict_words,
        verdict_sentence,
        model => result.model,
        counts => result.counts,
        kinds,
        total,
        keys,
        hidden_keys,
        explained,
        shrunk,
        config,
        seed => input.effective_seed(),
        command => input.command,
        duration => fmt_time(end),
        check_time => fmt_time(result.micros.saturating_mul(1000)),
        faults => fault_rows,
        plots => context! { latency => plots.latency, quantiles => plots.quantiles,
                            throughput => plots.throughput, ownership => plots.ownership },
        node_logs,
        fault_logs,
        has_logs => input.node_logs.is_some(),
        data => timeline::to_script_json(&data)?,
    })?;
    Ok(html)
}

/// Renders the report and writes it to `<dir>/report.html` (through a temporary file, so a
/// reader never sees half a report). Returns the path written.
///
/// # Errors
/// As [`render_report`], and [`ReportError::Io`] when the file cannot be written.
pub fn write_report(dir: &Path, input: &ReportInput<'_>) -> Result<PathBuf, ReportError> {
    let html = render_report(input)?;
    let path = dir.join("report.html");
    let tmp = dir.join(".report.html.tmp");
    std::fs::write(&tmp, html).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| ReportError::io(&path, e))?;
    Ok(path)
}

/// Orders names as people do: the numbers in them by value (`k2` before `k10`).
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    /// The next run of digits (as a number, then its length) or of other characters.
    fn chunks(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some((digits, chunk))
        })
    }
    let (mut x, mut y) = (chunks(a), chunks(b));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                let o = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if o.is_ne() {
                    return o;
                }
            }
            (Some((_, p)), Some((_, q))) => {
                if p != q {
                    return p.cmp(q);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::natural;

    #[test]
    fn keys_sort_by_the_numbers_in_them() {
        let mut keys = vec!["k10", "k2", "k1", "k0", "a", "k02", "k10b", "k10a", "x9y10", "x9y9"];
        keys.sort_by(|a, b| natural(a, b));
        assert_eq!(keys, ["a", "k0", "k1", "k02", "k2", "k10", "k10a", "k10b", "x9y9", "x9y10"]);
    }
}
