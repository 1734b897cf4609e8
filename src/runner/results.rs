//! What a run produced: the first anomaly in words, and the summary printed at the end.
//! `results.json` itself is defined once, in `faultline_store::results`, which the store
//! index and `faultline serve` read back.

use std::fmt::Write as _;

use faultline_api::maelstrom::{NetworkStats, SecondCount};
use faultline_checker::{CheckResult, History, Operation, Outcome, Verdict};
use serde_json::Value;

pub use faultline_store::results::{Anomaly, AnomalyOp, RunResults, RunStats};

fn describe(op: &Operation) -> String {
    let show = |v: &Value| if v.is_null() { "nil".to_string() } else { v.to_string() };
    match (op.f.as_str(), op.outcome) {
        ("read" | "get", Outcome::Ok) => format!("{} -> {}", op.f, show(&op.output)),
        (f, _) => format!("{f} {}", show(&op.input)),
    }
}

/// The first illegal key's operations, from the counterexample.
pub fn first_anomaly(result: &CheckResult, history: &History) -> Option<Anomaly> {
    let key = result.first_illegal()?;
    let cx = key.counterexample.as_ref()?;
    let mut ids: Vec<usize> = cx.stuck.iter().map(|s| s.op).collect();
    ids.extend(cx.blocking);
    ids.sort_unstable();
    ids.dedup();
    let secs = |t: u64| t as f64 / 1e9;
    let ops = ids
        .into_iter()
        .filter_map(|id| history.ops.get(id))
        .map(|op| AnomalyOp {
            id: op.id,
            process: op.process,
            what: describe(op),
            outcome: op.outcome,
            interval: (secs(op.call), op.ret.map(secs)),
        })
        .collect();
    Some(Anomaly { key: key.key.clone(), explanation: cx.explanation.clone(), ops })
}

/// A Maelstrom run's network: what was routed and dropped, what the nodes did wrong, and
/// that a killed node comes back empty.
fn network_lines(s: &mut String, net: &NetworkStats, r: &RunResults) {
    let sum = |f: fn(&SecondCount) -> u64| net.seconds.iter().map(f).sum::<u64>();
    let _ = writeln!(
        s,
        "  network: {} messages routed; between nodes {} delivered, {} cut, {} lost, {} delayed, \
         {} duplicated; {} service requests",
        net.routed,
        sum(|c| c.delivered),
        sum(|c| c.cut),
        sum(|c| c.lost),
        sum(|c| c.delayed),
        net.duplicated,
        net.service_requests
    );
    let m = &net.misbehaviour;
    let wrong = [
        (m.not_a_message, "lines that are not messages"),
        (m.unknown_dest, "messages to unknown destinations"),
        (m.reply_to_no_request, "replies to no request"),
        (m.flood, "messages dropped at a full inbox (flood)"),
    ];
    let named: Vec<String> =
        wrong.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    if !named.is_empty() {
        let _ = writeln!(s, "  node misbehaviour (counted; the run went on): {}", named.join(", "));
        for line in m.samples.iter().filter(|l| !l.contains("stdout closed")).take(3) {
            let _ = writeln!(s, "    {line}");
        }
    }
    if m.exits > 0 {
        let _ = writeln!(s, "  node outputs closed: {} (exits and kills)", m.exits);
    }
    if r.coverage.faults.iter().any(|f| f.fault == faultline_api::Fault::Kill) {
        let _ = writeln!(
            s,
            "  note: a killed Maelstrom node restarts with no durable state from faultline (it \
             keeps only files of its own): a lost acknowledged write after a kill may be the \
             node's design, not a bug"
        );
    }
}

/// The human summary printed at the end of a run.
pub fn summary(r: &RunResults) -> String {
    let mut s = String::new();
    let c = &r.stats.counts;
    let _ = writeln!(s, "faultline run {} (seed {})", r.test, r.seed);
    let _ = writeln!(
        s,
        "  {} ops in {:.1}s ({:.0}/s): {} ok, {} fail, {} info; {} nemesis events; {} keys",
        c.invoked,
        r.stats.workload_secs,
        r.stats.ops_per_sec,
        c.ok,
        c.fail,
        c.info,
        c.nemesis,
        r.stats.keys
    );
    let _ = writeln!(s, "  {}", r.coverage.line());
    if !r.coverage.faults.is_empty() && r.coverage.installed == 0 {
        let reasons: Vec<String> =
            r.coverage.faults.iter().flat_map(|f| f.skip_reasons.iter().cloned()).collect();
        let _ = writeln!(
            s,
            "  error: none of the requested faults took effect, so no fault was tested (exit 2){}",
            if reasons.is_empty() { String::new() } else { format!(": {}", reasons.join("; ")) }
        );
    } else if r.coverage.faults.iter().any(|f| f.installed == 0) {
        let missing: Vec<String> = r
            .coverage
            .faults
            .iter()
            .filter(|f| f.installed == 0)
            .map(|f| f.fault.to_string())
            .collect();
        let _ = writeln!(s, "  warning: these faults never took effect: {}", missing.join(", "));
    }
    let idle: Vec<String> = r
        .coverage
        .faults
        .iter()
        .filter(|f| f.installed > 0 && f.no_effect == f.installed)
        .map(|f| f.fault.to_string())
        .collect();
    if !idle.is_empty() {
        let _ = writeln!(
            s,
            "  warning: these faults took effect but changed nothing, so they were not tested: {} \
             (a power loss with nothing un-fsynced drops nothing; a partition between nodes that \
             sent nothing cuts nothing)",
            idle.join(", ")
        );
    }
    if !r.stats.recovered {
        let _ = writeln!(s, "  warning: the cluster did not recover (no leader) after healing");
    }
    if c.ok == 0 {
        let _ = writeln!(s, "  error: no operation succeeded, so nothing was checked (exit 2)");
    }
    if !r.stats.final_reads.missed.is_empty() {
        let _ = writeln!(
            s,
            "  warning: final reads failed for {} key(s)",
            r.stats.final_reads.missed.len()
        );
    }
    if let Some(net) = &r.network {
        network_lines(&mut s, net, r);
    }
    if let Some(sh) = r.shards.as_ref().filter(|s| !s.settled) {
        let _ = writeln!(
            s,
            "  error: the replica groups did not reach the latest configuration ({}) after the \
             heal (exit 1):",
            sh.latest
        );
        for g in &sh.groups {
            let _ = writeln!(s, "    {g}");
        }
    }
    match r.verdict {
        Verdict::Linearizable if r.exit_code == 0 => {
            let _ = writeln!(s, "  verdict: linearizable (exit 0)");
        }
        Verdict::Linearizable if r.shards.as_ref().is_some_and(|s| !s.settled) => {
            let _ = writeln!(s, "  verdict: linearizable history, but STALLED (exit 1)");
        }
        Verdict::Linearizable => {
            let _ = writeln!(
                s,
                "  verdict: UNKNOWN (exit {}): the history is linearizable, but the run did not \
                 exercise what it was asked to (see above)",
                r.exit_code
            );
        }
        Verdict::Unknown => {
            let why: Vec<String> = r
                .check
                .undecided()
                .take(3)
                .map(|k| format!("{} ({:?})", k.key.as_deref().unwrap_or("-"), k.unknown_reason))
                .collect();
            let _ = writeln!(s, "  verdict: UNKNOWN (exit 2): undecided keys {}", why.join(", "));
        }
        Verdict::Illegal => {
            let _ = writeln!(s, "  verdict: NOT LINEARIZABLE (exit 1)");
            if let Some(a) = &r.anomaly {
                let _ = writeln!(
                    s,
                    "  first anomaly, key {}: {}",
                    a.key.as_deref().unwrap_or("-"),
                    a.explanation
                );
                for op in a.ops.iter().take(8) {
                    let end = op.interval.1.map_or("...".into(), |t| format!("{t:.3}s"));
                    let _ = writeln!(
                        s,
                        "    op {:>5}  process {:>4}  {:<24} {:?}  [{:.3}s, {end}]",
                        op.id, op.process, op.what, op.outcome, op.interval.0
                    );
                }
            }
        }
    }
    let _ = writeln!(s, "  store: {}", r.dir.display());
    if let Some(report) = &r.report {
        let _ = writeln!(s, "  report: {}", report.display());
    }
    let _ = write!(s, "  replay: {}", r.replay);
    s
}
