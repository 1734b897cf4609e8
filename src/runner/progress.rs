//! The progress line while a run goes, and the faults currently active.
//!
//! ```text
//!  FaultEvent ───track──▶ ActiveFaults ──┐
//!  Recorder::counts() ────────────────────┴──▶ "⠋ 00:12 ops 2400 (200/s) ok 2310 fail 60 info 30 | kill n2"
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_api::{Edge, FaultEvent, FaultOutcome, Progress};
use faultline_child::ChildLine;
use faultline_workloads::Recorder;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Faults in place now, by kind (`partition`, `kill`, ...), with a short description.
#[derive(Debug, Clone, Default)]
pub struct ActiveFaults(Arc<Mutex<BTreeMap<&'static str, String>>>);

impl ActiveFaults {
    /// Updates from one nemesis event.
    pub fn track(&self, ev: &FaultEvent) {
        let (fault, edge) = ev.fault();
        let kind = fault.name();
        // A poisoned map of strings is still a valid map.
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match edge {
            Edge::End => {
                map.remove(kind);
            }
            Edge::Start if !matches!(ev.outcome, FaultOutcome::Skipped(_)) => {
                map.insert(kind, describe(ev));
            }
            Edge::Start | Edge::Step => {}
        }
    }

    /// `"partition (isolate-leader), kill n2"`, or `"calm"`.
    pub fn summary(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.is_empty() {
            return "calm".into();
        }
        map.values().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn describe(ev: &FaultEvent) -> String {
    let v = &ev.value;
    let nodes = v
        .get("nodes")
        .and_then(|n| n.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(","));
    let f = ev.name.f();
    match (v.get("shape").and_then(|s| s.as_str()), nodes) {
        (Some(shape), _) => format!("{f} ({shape})"),
        (None, Some(n)) => format!("{f} {n}"),
        _ => f.to_string(),
    }
}

/// A spinner on stderr (drawn only when stderr is a terminal).
pub fn bar(enabled: bool) -> ProgressBar {
    let pb = if enabled {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4))
    } else {
        ProgressBar::hidden()
    };
    // The template is a constant known to parse.
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
        pb.set_style(style);
    }
    pb
}

/// How progress reaches stderr besides the bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lines {
    /// Not at all.
    #[default]
    None,
    /// A plain line every 5 s (a pipe, a CI log).
    Text,
    /// A run progress line (`ChildLine::Run`, `{"progress": {..}}`) every 5 s (`--progress-json`, for `faultline serve`).
    Json,
}

/// Updates `pb` twice a second until the task is aborted; also logs a line every 5 s so that
/// `faultline.log` shows progress, and prints it on stderr as `lines` says.
pub async fn tick(pb: ProgressBar, recorder: Recorder, active: ActiveFaults, lines: Lines) {
    let mut every = tokio::time::interval(Duration::from_millis(500));
    let mut n = 0u64;
    loop {
        every.tick().await;
        n += 1;
        let c = recorder.counts();
        let secs = recorder.elapsed().as_secs_f64().max(0.001);
        let done = c.ok + c.fail + c.info;
        let msg = format!(
            "ops {done} ({:.0}/s)  ok {}  fail {}  info {}  | {}",
            done as f64 / secs,
            c.ok,
            c.fail,
            c.info,
            active.summary()
        );
        if n.is_multiple_of(10) {
            tracing::info!(target: "faultline::progress", "{msg}");
            match lines {
                Lines::None => {}
                Lines::Text => eprintln!("progress {secs:.0}s: {msg}"),
                Lines::Json => {
                    let p = Progress { elapsed_secs: secs, counts: c, fault: active.summary() };
                    eprintln!("{}", ChildLine::run(p).to_line());
                }
            }
        }
        pb.set_message(msg);
        pb.tick();
    }
}
