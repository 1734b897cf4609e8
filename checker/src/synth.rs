//! Seeded register histories that are linearizable by construction, for tests and for
//! `faultline bench checker`: a small value domain under many concurrent clients, the case
//! where no value names its write.
//!
//! ```text
//!  clients ──ops back to back, random gaps and durations──▶ intervals (info: a fresh process
//!            takes over the client)
//!  write values drawn from 1..=values (the stale twin keeps one value out of a window)
//!  every op takes effect at a random instant inside its interval (an info op at any instant
//!  after its invoke, or never) ──applied in that order to a real register──▶ read results
//!  stale twin: one read at about half the history returns that kept-out value
//! ```
//!
//! The stale read is certainly illegal: a write `w` of another value returned before the read
//! was invoked, and no write of the read's value (ok or info) may take effect between `w`'s
//! invoke and the read's completion, so whatever order is chosen the register holds some
//! other value when the read goes.

use serde_json::{json, Value};

use crate::history::{History, Operation, Outcome};

/// SplitMix64: a fixed, seeded sequence (tests drive it from proptest seeds).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index below `len` (0 when `len` is 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Operations in all.
    pub ops: usize,
    /// Concurrent clients.
    pub clients: u64,
    /// Writes draw from `1..=values` (at least 2).
    pub values: i64,
    /// Writes that end `info`, per thousand writes.
    pub info_permille: u64,
    /// The seed.
    pub seed: u64,
    /// Make one read certainly stale (the history is then not linearizable).
    pub stale: bool,
}

/// One operation being generated.
struct Gen {
    process: u64,
    write: bool,
    call: u64,
    ret: u64,
    info: bool,
    /// When it takes effect (`None`: never; only for info ops).
    at: Option<u64>,
    value: Option<i64>,
}

/// A single-register history (`register` model, initial value null) as `spec` says, with the
/// key `"r"`.
pub fn register(spec: &Spec) -> History {
    let mut rng = Rng(spec.seed);
    let values = spec.values.max(2);
    let mut ops: Vec<Gen> = Vec::with_capacity(spec.ops);
    let mut clients: Vec<(u64, u64)> = (0..spec.clients.max(1)).map(|c| (c, 0)).collect();
    let mut next_process = clients.len() as u64;
    for _ in 0..spec.ops {
        let c = rng.below(clients.len() as u64) as usize;
        let (process, free) = clients[c];
        let call = free + rng.below(2_000);
        let ret = call + 1_000 + rng.below(199_000);
        let write = rng.chance(50);
        let info = write && rng.below(1000) < spec.info_permille;
        let at = if info {
            rng.chance(50).then(|| call + rng.below(400_000))
        } else {
            Some(call + rng.below(ret - call + 1))
        };
        ops.push(Gen { process, write, call, ret, info, at, value: None });
        clients[c] = if info {
            next_process += 1;
            (next_process - 1, ret)
        } else {
            (process, ret)
        };
    }
    // The stale read and the window its value is kept out of.
    let stale = if spec.stale { stale_target(&ops, values, &mut rng) } else { None };
    for g in ops.iter_mut().filter(|g| g.write) {
        let mut v = 1 + rng.below(values as u64) as i64;
        if let Some(t) = stale {
            // Everything that may take effect between w's invoke and the read's completion
            // (w itself included) writes another value.
            if v == t.value && g.call <= t.to && (g.info || g.ret >= t.from) {
                v = 1 + v % values;
            }
        }
        g.value = Some(v);
    }
    // Apply in the order the operations take effect.
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].at.is_some()).collect();
    order.sort_by_key(|&i| (ops[i].at, i));
    let mut reg: Option<i64> = None;
    for &i in &order {
        if ops[i].write {
            reg = ops[i].value;
        } else {
            ops[i].value = reg;
        }
    }
    if let Some(t) = stale {
        ops[t.read].value = Some(t.value);
    }
    into_history(ops)
}

/// The read made stale, and the value kept out of `[from, to]` for it.
#[derive(Debug, Clone, Copy)]
struct Stale {
    read: usize,
    value: i64,
    from: u64,
    to: u64,
}

/// Picks a read at about half the history, the write `w` of the latest invoke among those
/// that returned before the read was invoked, and a value to keep out of `[call(w),
/// ret(read)]`.
fn stale_target(ops: &[Gen], values: i64, rng: &mut Rng) -> Option<Stale> {
    let mut by_call: Vec<usize> = (0..ops.len()).collect();
    by_call.sort_by_key(|&i| ops[i].call);
    for &r in &by_call[by_call.len() / 2..] {
        if ops[r].write {
            continue;
        }
        let w = by_call
            .iter()
            .copied()
            .filter(|&w| ops[w].write && !ops[w].info && ops[w].ret < ops[r].call)
            .max_by_key(|&w| ops[w].call);
        if let Some(w) = w {
            let value = 1 + rng.below(values as u64) as i64;
            return Some(Stale { read: r, value, from: ops[w].call, to: ops[r].ret });
        }
    }
    None
}

/// `writers` concurrent writes alternating 1 and 2 (all invoked before any completes), then
/// one read after another returning `reads`: with a read of 3, the adversarial history of
/// issue 29 that no value explains; with reads 1, 2, 1, one only a search refutes.
pub fn concurrent_writes(writers: usize, reads: &[i64]) -> History {
    let n = writers as u64;
    let mut ops: Vec<Gen> = (0..n)
        .map(|p| Gen {
            process: p,
            write: true,
            call: p,
            ret: n + p,
            info: false,
            at: None,
            value: Some(1 + (p % 2) as i64),
        })
        .collect();
    for (i, &v) in reads.iter().enumerate() {
        let call = 2 * n + 10 * i as u64;
        ops.push(Gen {
            process: n,
            write: false,
            call,
            ret: call + 1,
            info: false,
            at: None,
            value: Some(v),
        });
    }
    into_history(ops)
}

/// The register operations as [`Generated`] ones, with the key `"r"`.
fn into_history(gen: Vec<Gen>) -> History {
    let ops = gen.into_iter().map(|g| {
        let value = g.value.map_or(Value::Null, |v| json!(v));
        Generated {
            process: g.process,
            f: if g.write { "write" } else { "read" }.to_string(),
            key: "r".into(),
            input: if g.write { value.clone() } else { Value::Null },
            output: value,
            call: g.call,
            ret: g.ret,
            info: g.info,
        }
    });
    history_of(ops.collect())
}

/// One generated operation: what it did and when (any time unit; only the order counts).
#[derive(Debug, Clone)]
pub struct Generated {
    /// Its process.
    pub process: u64,
    /// Its function.
    pub f: String,
    /// Its key.
    pub key: String,
    /// What it was asked to do.
    pub input: Value,
    /// What it returned (left out for an `info` one).
    pub output: Value,
    /// When it was invoked.
    pub call: u64,
    /// When it completed.
    pub ret: u64,
    /// Whether it completed `info` (timed out: its outcome unknown).
    pub info: bool,
}

/// The history a recorder would have written of `gen`: operations ordered by invoke, each
/// event numbered by its time.
pub fn history_of(mut gen: Vec<Generated>) -> History {
    gen.sort_by_key(|g| g.call);
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(gen.len() * 2);
    for (i, g) in gen.iter().enumerate() {
        events.push((g.call, false, i));
        events.push((g.ret, true, i));
    }
    events.sort_unstable();
    let mut index = vec![(0u64, 0u64); gen.len()];
    for (n, &(_, is_ret, i)) in events.iter().enumerate() {
        if is_ret {
            index[i].1 = n as u64;
        } else {
            index[i].0 = n as u64;
        }
    }
    let ops = gen
        .into_iter()
        .enumerate()
        .map(|(id, g)| Operation {
            id,
            process: g.process,
            f: g.f,
            key: Some(g.key),
            input: g.input,
            output: if g.info { Value::Null } else { g.output },
            outcome: if g.info { Outcome::Unknown } else { Outcome::Ok },
            call: g.call,
            ret: Some(g.ret),
            invoke_index: index[id].0,
            complete_index: Some(index[id].1),
            error: g.info.then(|| "timeout".to_string()),
            node: None,
            term: None,
            // Generated, not read from a file: no lines to name.
            invoke_line: 0,
            complete_line: None,
        })
        .collect();
    History { ops, nemesis: Vec::new() }
}
