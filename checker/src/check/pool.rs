//! The worker pool: partitions are checked in parallel, largest first, one worker per core;
//! the first illegal partition cancels the others unless every key was asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::check::part::{check_part, decided};
use crate::check::{CancelToken, CheckOptions, ModelSpec};
use crate::error::CheckError;
use crate::history::{History, Operation, Outcome};
use crate::model::Model;
use crate::models::{Kv, Register, Whole};
use crate::unique::{self, Decision};
use crate::verdict::{CheckResult, Counts, Decider, KeyResult, Verdict};
use crate::visible;
use crate::wgl::{Limits, Stop};

/// Runs a whole check (see [`crate::check()`]).
pub fn run(
    history: &History,
    spec: &ModelSpec,
    opts: &CheckOptions,
) -> Result<CheckResult, CheckError> {
    if opts.unique_values == unique::Uniqueness::Require && !opts.partition {
        return Err(CheckError::Usage(
            "--unique-values is checked key by key; it cannot be combined with --no-partition"
                .into(),
        ));
    }
    let (u, w) = (opts.unique_values, opts.witness);
    match spec {
        ModelSpec::Register { initial } | ModelSpec::CasRegister { initial } => {
            let cas = matches!(spec, ModelSpec::CasRegister { .. });
            let model = Register { initial: *initial, cas };
            let fast = move |ops: &[&Operation]| {
                if let Some(d) = unique::register::check(&model, ops, u, w)? {
                    return Ok(Some((Decider::UniqueRegister, d)));
                }
                if u == unique::Uniqueness::Off {
                    return Ok(None);
                }
                Ok(visible::check(&model, ops)?.map(|d| (Decider::InvisibleValue, d)))
            };
            dispatch(model, history, opts, &fast)
        }
        ModelSpec::Kv => {
            let fast = move |ops: &[&Operation]| {
                Ok(unique::append::check(ops, u, w)?.map(|d| (Decider::UniqueAppend, d)))
            };
            dispatch(Kv, history, opts, &fast)
        }
    }
}

/// A polynomial checker tried on each key before WGL: `Ok(None)` when the key does not
/// qualify.
type Fast<'a> =
    dyn Fn(&[&Operation]) -> Result<Option<(Decider, Decision)>, CheckError> + Sync + 'a;

fn dispatch<M: Model>(
    model: M,
    h: &History,
    opts: &CheckOptions,
    fast: &Fast,
) -> Result<CheckResult, CheckError> {
    if opts.partition {
        run_model(&model, h, opts, true, Some(fast))
    } else {
        run_model(&Whole(model), h, opts, false, None)
    }
}

/// Decides one key: by its polynomial checker when it qualifies, else by WGL.
fn check_key<M: Model>(
    model: &M,
    key: &Option<String>,
    ops: &[&Operation],
    limits: &Limits,
    opts: &CheckOptions,
    fast: Option<&Fast>,
) -> Result<KeyResult, CheckError> {
    let started = Instant::now();
    if let Some(fast) = fast {
        if let Some((decider, decision)) = fast(ops)? {
            let micros = started.elapsed().as_micros() as u64;
            return Ok(decided(key.clone(), ops.len(), decider, decision, micros));
        }
    }
    let reduce = opts.unique_values != unique::Uniqueness::Off;
    check_part(model, key.clone(), ops, limits, opts.witness, reduce)
}

/// How often the watchdog looks at a [`CancelToken`].
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Raises the stop flag at `deadline` or once `cancel` is set, whichever comes first; returns
/// when the check is done (`done` hung up).
fn watchdog(
    done: &mpsc::Receiver<()>,
    limits: &Limits,
    deadline: Option<Instant>,
    cancel: Option<&CancelToken>,
) {
    loop {
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            limits.stop.raise(Stop::TimeLimit);
            return;
        }
        if cancel.is_some_and(CancelToken::is_cancelled) {
            limits.stop.raise(Stop::Abandoned);
            return;
        }
        let mut wait = deadline.map_or(Duration::MAX, |d| d - now);
        if cancel.is_some() {
            wait = wait.min(CANCEL_POLL);
        }
        match done.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}

fn counts(h: &History, keys: usize) -> Counts {
    let mut c = Counts { ops: h.ops.len(), keys, nemesis: h.nemesis.len(), ..Counts::default() };
    for op in &h.ops {
        match op.outcome {
            Outcome::Ok => c.ok += 1,
            Outcome::Fail => c.fail += 1,
            Outcome::Unknown => c.info += 1,
        }
    }
    c
}

fn run_model<M: Model>(
    model: &M,
    h: &History,
    opts: &CheckOptions,
    partition: bool,
    fast: Option<&Fast>,
) -> Result<CheckResult, CheckError> {
    let started = Instant::now();
    // Partition (BTreeMap: results come out in key order).
    let mut parts: std::collections::BTreeMap<Option<&str>, Vec<&Operation>> = Default::default();
    for op in &h.ops {
        let key = if partition { op.key.as_deref() } else { None };
        parts.entry(key).or_default().push(op);
    }
    let distinct_keys = h
        .ops
        .iter()
        .filter_map(|o| o.key.as_deref())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let parts: Vec<(Option<String>, Vec<&Operation>)> =
        parts.into_iter().map(|(k, v)| (k.map(str::to_string), v)).collect();
    // Largest first, for balance.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(parts[i].1.len()));

    let limits = Limits::new(opts.memory_limit.unwrap_or(u64::MAX));
    if opts.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
        limits.stop.raise(Stop::Abandoned);
    }
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    }
    .min(parts.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<KeyResult, CheckError>>>> =
        Mutex::new((0..parts.len()).map(|_| None).collect());

    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        if opts.time_limit.is_some() || opts.cancel.is_some() {
            let (limits, cancel) = (&limits, opts.cancel.as_ref());
            let deadline = opts.time_limit.map(|t| started + t);
            scope.spawn(move || watchdog(&done_rx, limits, deadline, cancel));
        }
        let work = || loop {
            if limits.stop.get().is_some() {
                break;
            }
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&p) = order.get(i) else { break };
            let (key, ops) = &parts[p];
            let r = check_key(model, key, ops, &limits, opts, fast);
            let bad = matches!(&r, Ok(k) if k.verdict == Verdict::Illegal) || r.is_err();
            if bad && !opts.all_keys {
                limits.stop.raise(Stop::Cancel);
            }
            // The lock is only held to store a result; a poisoned lock means another worker
            // panicked, which scope() re-raises anyway.
            results.lock().unwrap_or_else(|e| e.into_inner())[p] = Some(r);
        };
        // The calling thread is one of the workers: a single partition spawns nothing.
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        work();
        for w in helpers {
            let _ = w.join();
        }
        drop(done_tx);
    });

    let mut keys = Vec::with_capacity(parts.len());
    let mut verdict = Verdict::Linearizable;
    for (r, (key, ops)) in
        results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().zip(&parts)
    {
        let kr = match r {
            Some(r) => r?,
            // Never started: the stop flag was raised before a worker reached it.
            None => KeyResult {
                key: key.clone(),
                verdict: Verdict::Unknown,
                checker: Decider::Wgl,
                unknown_reason: Some(limits.stop.get().unwrap_or(Stop::Cancel).into()),
                ops: ops.len(),
                searched_ops: 0,
                counterexample: None,
                witness: None,
                stats: Default::default(),
            },
        };
        verdict = verdict.combine(kr.verdict);
        keys.push(kr);
    }
    // A history with no operations checked nothing: never a pass, on every path.
    if h.ops.is_empty() {
        verdict = Verdict::Unknown;
    }
    Ok(CheckResult {
        verdict,
        model: model.name().to_string(),
        keys,
        counts: counts(h, distinct_keys),
        micros: started.elapsed().as_micros() as u64,
    })
}
