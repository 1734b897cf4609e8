//! Synthetic register histories, for examples, tests and the 100,000-operation benchmark of
//! the report. Not a checker: the [`CheckResult`] built here comes from the simulation that
//! generated the history (it knows every operation's linearization point).
//!
//! ```text
//!  seed ─▶ per-process op timelines (call, ret, linearization point) ─▶ apply in
//!  linearization order to a cas-register per key ─▶ events ─▶ History (+ one stale read)
//! ```

use faultline_checker::{
    CheckResult, Counterexample, Counts, Decider, Event, EventKind, History, HistoryBuilder,
    KeyResult, Outcome, Process, SearchStats, StuckOp, Verdict,
};
use serde_json::{json, Value};

/// A small deterministic generator (SplitMix64); the sample needs no cryptographic quality
/// and no dependency.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// Client operations.
    pub ops: usize,
    /// Concurrent workers.
    pub workers: usize,
    /// Keys.
    pub keys: usize,
    /// Seed.
    pub seed: u64,
    /// Plant a stale read (the history becomes not linearizable).
    pub stale_read: bool,
    /// Add partition and kill faults.
    pub faults: bool,
    /// Keys in turn, as the workload's `ops-per-key` moves on: the first `ops/keys`
    /// operations use `k0`, the next `k1`, … (else each operation draws its key).
    pub key_runs: bool,
}

impl Default for SampleSpec {
    fn default() -> Self {
        SampleSpec {
            ops: 200,
            workers: 5,
            keys: 1,
            seed: 1,
            stale_read: true,
            faults: true,
            key_runs: false,
        }
    }
}

struct Op {
    worker: usize,
    call: u64,
    ret: u64,
    lin: u64,
    f: &'static str,
    key: String,
    input: Value,
    output: Value,
    kind: EventKind,
}

/// Generates a history and the result a checker gives for it.
pub fn generate(spec: &SampleSpec) -> (History, CheckResult) {
    let mut rng = Mix(spec.seed);
    let mut clock = vec![1_000_000u64; spec.workers.max(1)];
    let mut ops: Vec<Op> = Vec::with_capacity(spec.ops);
    for n in 0..spec.ops {
        let w = (0..clock.len()).min_by_key(|&w| clock[w]).unwrap_or(0);
        let call = clock[w] + rng.below(400_000);
        // Mostly 0.2–3 ms, now and then a slow one.
        let dur = 200_000
            + rng.below(2_800_000)
            + if rng.below(50) == 0 { rng.below(40_000_000) } else { 0 };
        let ret = call + dur;
        clock[w] = ret;
        let (f, input) = match rng.below(10) {
            0..=4 => ("read", Value::Null),
            5..=7 => ("write", json!(rng.below(10))),
            _ => ("cas", json!([rng.below(10), rng.below(10)])),
        };
        let key = if spec.key_runs {
            format!("k{}", n * spec.keys.max(1) / spec.ops.max(1))
        } else {
            format!("k{}", rng.below(spec.keys.max(1) as u64))
        };
        let lin = call + rng.below(dur);
        ops.push(Op {
            worker: w,
            call,
            ret,
            lin,
            f,
            key,
            input,
            output: Value::Null,
            kind: EventKind::Ok,
        });
    }
    let unique = if spec.stale_read { choose_unique_write(&mut ops) } else { None };
    // Apply in linearization order.
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| ops[i].lin);
    let mut state: std::collections::BTreeMap<String, Value> = Default::default();
    let mut rank = vec![0usize; ops.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
        let op = &mut ops[i];
        let cur = state.get(&op.key).cloned().unwrap_or(Value::Null);
        match op.f {
            "read" => op.output = cur,
            "write" => {
                state.insert(op.key.clone(), op.input.clone());
                op.output = op.input.clone();
            }
            _ => {
                if op.input[0] == cur {
                    state.insert(op.key.clone(), op.input[1].clone());
                    op.output = op.input.clone();
                } else {
                    op.kind = EventKind::Fail;
                }
            }
        }
        // A few timeouts: the op happened but the client never heard.
        if op.kind == EventKind::Ok && op.f != "read" && (i * 7919) % 97 == 0 && Some(i) != unique {
            op.kind = EventKind::Info;
        }
    }
    let stale = unique.and_then(|w| plant_stale_read(&mut ops, w));
    let events = to_events(&ops, spec, &mut rng);
    let mut b = HistoryBuilder::default();
    for (line, e) in events.into_iter().enumerate() {
        // The events are generated well formed (one op per process at a time).
        if let Err(e) = b.push(line + 1, e) {
            panic!("sample generator produced a bad history: {e}");
        }
    }
    let history = b.finish();
    let result = result_for(&history, &ops, &rank, stale);
    (history, result)
}

/// The value only the planted write writes (the generator's values are below 10).
const STALE: u64 = 100;

/// Before the simulation: gives one early write of k0 a value nobody else writes.
fn choose_unique_write(ops: &mut [Op]) -> Option<usize> {
    let w = (ops.len() / 10..ops.len()).find(|&i| ops[i].f == "write" && ops[i].key == "k0")?;
    ops[w].input = json!(STALE);
    Some(w)
}

/// After the simulation: the first ok read of k0 that began after a later write of k0
/// completed is made to return the unique value. Returns the read's index.
fn plant_stale_read(ops: &mut [Op], w: usize) -> Option<usize> {
    if ops[w].kind != EventKind::Ok {
        return None;
    }
    let k0 = |o: &Op| o.key == "k0" && o.kind == EventKind::Ok;
    let x = (0..ops.len())
        .filter(|&i| k0(&ops[i]) && ops[i].f != "read" && ops[i].call > ops[w].ret)
        .min_by_key(|&i| ops[i].ret)?;
    let r = (0..ops.len())
        .filter(|&i| k0(&ops[i]) && ops[i].f == "read" && ops[i].call > ops[x].ret)
        .min_by_key(|&i| ops[i].call)?;
    ops[r].output = json!(STALE);
    Some(r)
}

fn to_events(ops: &[Op], spec: &SampleSpec, rng: &mut Mix) -> Vec<Event> {
    // (time, order, event): invokes sort before completions at the same time.
    let mut evs: Vec<(u64, u8, Event)> = Vec::with_capacity(ops.len() * 2 + 16);
    let mut process: Vec<u64> = (0..spec.workers.max(1) as u64).collect();
    let mut next_process = process.len() as u64;
    for op in ops {
        let p = process[op.worker];
        let mk = |kind, value: Value, time| Event {
            index: 0,
            kind,
            process: Process::Client(p),
            f: op.f.to_string(),
            key: Some(op.key.clone()),
            value,
            time,
            error: match kind {
                EventKind::Info => Some("timeout".into()),
                EventKind::Fail => Some("cas-mismatch".into()),
                _ => None,
            },
            // As a real run records it: the node that answered an ok or fail completion.
            node: matches!(kind, EventKind::Ok | EventKind::Fail)
                .then(|| format!("n{}", 1 + op.worker % 5)),
            term: None,
        };
        evs.push((op.call, 0, mk(EventKind::Invoke, op.input.clone(), op.call)));
        let out = if op.kind == EventKind::Ok { op.output.clone() } else { op.input.clone() };
        evs.push((op.ret, 1, mk(op.kind, out, op.ret)));
        if op.kind == EventKind::Info {
            process[op.worker] = next_process;
            next_process += 1;
        }
    }
    let end = ops.iter().map(|o| o.ret).max().unwrap_or(0);
    if spec.faults && end > 0 {
        let mut t = end / 10;
        let mut i = 0u64;
        while t < end {
            let len = end / 12 + rng.below(end / 20 + 1);
            let (start, stop, value) = if i & 1 == 0 {
                (
                    "start-partition",
                    "stop-partition",
                    json!({"groups": [["n1", "n2"], ["n3", "n4", "n5"]], "shape": "majority-minority"}),
                )
            } else {
                let n = format!("n{}", 1 + rng.below(5));
                ("kill", "start", json!({"nodes": [n]}))
            };
            let nem = |f: &str, time| Event {
                index: 0,
                kind: EventKind::Info,
                process: Process::Nemesis,
                f: f.to_string(),
                key: None,
                value: value.clone(),
                time,
                error: None,
                node: None,
                term: None,
            };
            evs.push((t, 2, nem(start, t)));
            evs.push(((t + len).min(end), 2, nem(stop, (t + len).min(end))));
            t += len + end / 8;
            i += 1;
        }
    }
    evs.sort_by_key(|(t, o, _)| (*t, *o));
    evs.into_iter()
        .enumerate()
        .map(|(i, (_, _, mut e))| {
            e.index = i as u64;
            e
        })
        .collect()
}

fn result_for(history: &History, ops: &[Op], rank: &[usize], stale: Option<usize>) -> CheckResult {
    // History ops are numbered in invoke order; invokes were sorted stably by time.
    let mut by_call: Vec<usize> = (0..ops.len()).collect();
    by_call.sort_by_key(|&i| ops[i].call);
    let mut gen_of = vec![0usize; ops.len()];
    for (hist, &g) in by_call.iter().enumerate() {
        gen_of[hist] = g;
    }
    let mut keys: std::collections::BTreeMap<String, usize> = Default::default();
    for op in &history.ops {
        *keys.entry(op.key.clone().unwrap_or_default()).or_default() += 1;
    }
    let mut results = Vec::new();
    for (key, n) in keys {
        let mut kr = KeyResult {
            key: Some(key.clone()),
            verdict: Verdict::Linearizable,
            checker: Decider::Wgl,
            unknown_reason: None,
            ops: n,
            searched_ops: n,
            counterexample: None,
            witness: None,
            stats: SearchStats::default(),
        };
        if let Some(g) = stale.filter(|&g| ops[g].key == key) {
            // The prefix: every op of the key that took effect before the stale read, in
            // the simulation's linearization order.
            let mut prefix: Vec<(usize, usize)> = (0..history.ops.len())
                .map(|h| (h, gen_of[h]))
                .filter(|&(_, i)| ops[i].key == key && ops[i].kind != EventKind::Fail)
                .filter(|&(_, i)| rank[i] < rank[g])
                .map(|(h, i)| (rank[i], h))
                .collect();
            prefix.sort_unstable();
            let cur = prefix
                .iter()
                .rev()
                .map(|&(_, h)| &ops[gen_of[h]])
                .find(|o| o.f != "read")
                .map(|o| if o.f == "cas" { o.input[1].clone() } else { o.input.clone() })
                .unwrap_or(Value::Null);
            // `g`'s history id: the position of its invoke.
            let b = by_call.iter().position(|&i| i == g).unwrap_or(0);
            let read = &history.ops[b];
            kr.verdict = Verdict::Illegal;
            kr.counterexample = Some(Counterexample {
                prefix: prefix.into_iter().map(|(_, h)| h).collect(),
                state: cur.to_string(),
                stuck: vec![StuckOp {
                    op: b,
                    reason: format!("read {}, but the value is {cur}", read.output),
                }],
                blocking: Some(b),
                explanation: format!("read {} but the register held {cur}", read.output),
            });
        }
        results.push(kr);
    }
    let verdict = results.iter().fold(Verdict::Linearizable, |v, k| v.combine(k.verdict));
    let count = |o: Outcome| history.ops.iter().filter(|x| x.outcome == o).count();
    CheckResult {
        verdict,
        model: "cas-register".into(),
        counts: Counts {
            ops: history.ops.len(),
            ok: count(Outcome::Ok),
            fail: count(Outcome::Fail),
            info: count(Outcome::Unknown),
            keys: results.len(),
            nemesis: history.nemesis.len(),
        },
        keys: results,
        micros: 0,
    }
}
