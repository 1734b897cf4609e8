//! The hot-key rows of `faultline bench checker`: one key under high concurrency, where WGL
//! gives up and the polynomial checkers (`checker::unique`) take over. The histories are
//! generated here, seeded, so every run measures the same ones:
//!
//! ```text
//!  clients ──back-to-back ops, random durations──▶ intervals ──a random instant inside each
//!  (info ops: any instant after the invoke, or never)──▶ applied in that order ──▶ results
//!  "bad" variant: one read late in the history returns a value overwritten long before
//! ```
//!
//! Peak memory is the process' high-water mark (`VmHWM`), reset before each case through
//! `/proc/self/clear_refs`, so it includes the generated history itself.
// A benchmark reads the wall clock by definition.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use faultline_checker::synth::{history_of, Generated};
use faultline_checker::{check, CheckOptions, Decider, History, ModelSpec, Uniqueness};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

/// What a generated history holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A register: reads and writes of distinct integers.
    Register,
    /// A kv key: gets (returning the whole list) and appends of distinct tokens.
    Append,
}

/// One operation being generated: its interval and the instant it takes effect.
struct Gen {
    process: u64,
    f: &'static str,
    input: Value,
    call: u64,
    ret: u64,
    /// When it takes effect (`None`: never; only for info ops).
    at: Option<u64>,
    info: bool,
    output: Value,
}

/// A seeded history of `n` operations by `clients` concurrent clients on one key; with
/// `bad`, one read at about 95 % of the history is made stale.
fn generate(shape: Shape, n: usize, clients: u64, seed: u64, bad: bool) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ops: Vec<Gen> = Vec::with_capacity(n);
    let mut clock: Vec<(u64, u64)> = (0..clients).map(|c| (c, 0)).collect();
    let mut next_process = clients;
    let mut value = 0i64;
    for _ in 0..n {
        let c = rng.random_range(0..clients as usize);
        let (process, free) = clock[c];
        let call = free + rng.random_range(0..2_000);
        let ret = call + rng.random_range(1_000..200_000);
        let read = rng.random_bool(0.5);
        let info = !read && rng.random_bool(0.002);
        let (f, input) = match (shape, read) {
            (Shape::Register, true) => ("read", Value::Null),
            (Shape::Append, true) => ("get", Value::Null),
            (Shape::Register, false) => {
                value += 1;
                ("write", json!(value))
            }
            (Shape::Append, false) => {
                value += 1;
                ("append", json!(format!("{value},")))
            }
        };
        let at = if info {
            rng.random_bool(0.5).then(|| call + rng.random_range(0..400_000))
        } else {
            Some(rng.random_range(call..=ret))
        };
        ops.push(Gen { process, f, input, call, ret, at, info, output: Value::Null });
        clock[c] = if info {
            next_process += 1;
            (next_process - 1, ret)
        } else {
            (process, ret)
        };
    }
    // Apply in the order the operations take effect.
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].at.is_some()).collect();
    order.sort_by_key(|&i| ops[i].at);
    let mut reg = Value::Null;
    let mut list = String::new();
    let mut applied_writes: Vec<Value> = Vec::new();
    // Per read: how many writes took effect before it.
    let mut seen = vec![0usize; ops.len()];
    for &i in &order {
        let o = &mut ops[i];
        seen[i] = applied_writes.len();
        match o.f {
            "read" => o.output = reg.clone(),
            "get" => o.output = json!(list),
            "write" => {
                reg = o.input.clone();
                applied_writes.push(reg.clone());
            }
            _ => list.push_str(o.input.as_str().unwrap_or_default()),
        }
    }
    if bad {
        // A read at ~95 % returns what was current about 1,000 writes before: stale.
        let target = order.len() * 95 / 100;
        let pos = order[target..].iter().position(|&i| ops[i].f == "read" || ops[i].f == "get");
        if let Some(p) = pos.map(|p| order[target + p]) {
            ops[p].output = match shape {
                Shape::Register => {
                    let k = seen[p].saturating_sub(1_000);
                    applied_writes.get(k).cloned().unwrap_or(Value::Null)
                }
                Shape::Append => {
                    // The same list with its first two appends swapped.
                    let s = ops[p].output.as_str().unwrap_or_default().to_string();
                    let parts: Vec<&str> = s.split_inclusive(',').collect();
                    let mut swapped = parts.clone();
                    if swapped.len() > 1 {
                        swapped.swap(0, 1);
                    }
                    json!(swapped.concat())
                }
            };
        }
    }
    into_history(ops)
}

/// The history of the generated operations, on the key `"hot"`.
fn into_history(gen: Vec<Gen>) -> History {
    let ops = gen.into_iter().map(|g| Generated {
        process: g.process,
        f: g.f.to_string(),
        key: "hot".into(),
        input: g.input,
        output: g.output,
        call: g.call,
        ret: g.ret,
        info: g.info,
    });
    history_of(ops.collect())
}

/// Resets the process' peak RSS to its current RSS (Linux ≥ 4.0).
pub(super) fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process' peak RSS in bytes since the last reset.
pub(super) fn peak() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

pub(super) fn mib(b: Option<u64>) -> String {
    b.map_or_else(|| "?".into(), |b| format!("{} MiB", b >> 20))
}

/// Checks `h` once under `opts` and prints one row.
pub(super) fn row(
    label: &str,
    h: &History,
    model: &ModelSpec,
    opts: &CheckOptions,
) -> anyhow::Result<()> {
    reset_peak();
    let t = Instant::now();
    let r = check(h, model, opts)?;
    let took = t.elapsed();
    let k = r.keys.first();
    let by = k.map_or(Decider::Wgl, |k| k.checker);
    let why = k.and_then(|k| k.unknown_reason).map(|u| format!(" ({u:?})")).unwrap_or_default();
    println!(
        "  {label:<34} {:<16} {:>10.3} s {:>10}  {:?}{why}",
        serde_json::to_value(by)?.as_str().unwrap_or("?"),
        took.as_secs_f64(),
        mib(peak()),
        r.verdict
    );
    Ok(())
}

/// Prints the hot-key rows: each history decided by the default checker (the polynomial one
/// where the key qualifies) and by WGL alone, both under the goal's limits.
pub fn run() -> anyhow::Result<()> {
    println!(
        "\nhot keys (seeded histories on one key; peak = process VmHWM during the check, the \
         history included; WGL alone under the same time and memory limits)"
    );
    let cases = [
        ("register 1M ops, 100 clients", Shape::Register, 1_000_000, 100, 10.0),
        ("append 10k ops, 50 clients", Shape::Append, 10_000, 50, 2.0),
    ];
    for (name, shape, n, clients, secs) in cases {
        let model = match shape {
            Shape::Register => ModelSpec::Register { initial: None },
            Shape::Append => ModelSpec::Kv,
        };
        for bad in [false, true] {
            reset_peak();
            let h = generate(shape, n, clients, 12, bad);
            println!(
                "{name}, {} (generating it peaked at {}), goal < {secs} s, < 2 GiB",
                if bad { "one stale read at 95 %" } else { "linearizable" },
                mib(peak())
            );
            let limits = CheckOptions {
                time_limit: Some(Duration::from_secs_f64(secs)),
                memory_limit: Some(2 << 30),
                ..CheckOptions::default()
            };
            row("default", &h, &model, &limits)?;
            let wgl = CheckOptions { unique_values: Uniqueness::Off, ..limits };
            row("WGL alone", &h, &model, &wgl)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::Verdict;

    #[test]
    fn generated_histories_are_decided_as_built() {
        for shape in [Shape::Register, Shape::Append] {
            let model = if shape == Shape::Register {
                ModelSpec::Register { initial: None }
            } else {
                ModelSpec::Kv
            };
            for bad in [false, true] {
                let h = generate(shape, 3_000, 20, 5, bad);
                let r = check(&h, &model, &CheckOptions::default()).unwrap();
                let want = if bad { Verdict::Illegal } else { Verdict::Linearizable };
                assert_eq!(r.verdict, want, "{shape:?} bad={bad}");
                assert_ne!(r.keys[0].checker, Decider::Wgl);
            }
        }
    }
}
