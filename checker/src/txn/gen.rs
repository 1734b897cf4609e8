//! Histories of a simulated store that runs each transaction atomically at its completion,
//! so they are strict serializable by construction: for benchmarks, and as the valid
//! baseline of tests.
//!
//! Like Elle's generator, a fixed number of keys is active at a time, and a key retires
//! after a number of writes, replaced by a fresh one, so reads stay short however long the
//! history. Values are 1, 2, 3, ... per key, so every write is distinct.

use serde_json::{json, Value};

use crate::history::{Event, EventKind, History, HistoryBuilder, Process};
use crate::txn::names::TxnModel;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenSpec {
    /// list-append or rw-register.
    pub model: TxnModel,
    /// Transactions.
    pub txns: usize,
    /// Client processes running concurrently.
    pub clients: usize,
    /// Micro-ops per transaction.
    pub ops_per_txn: usize,
    /// Keys active at a time.
    pub keys: usize,
    /// Writes after which a key retires.
    pub writes_per_key: usize,
    /// The seed.
    pub seed: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            model: TxnModel::ListAppend,
            txns: 1000,
            clients: 10,
            ops_per_txn: 4,
            keys: 1000,
            writes_per_key: 32,
            seed: 1,
        }
    }
}

pub use crate::synth::Rng;

/// A micro-op to run: (is a write, key, value written).
type Planned = (bool, u64, u64);

/// Generates the events of a history, in order, into `sink`.
pub fn generate(spec: &GenSpec, mut sink: impl FnMut(Event)) {
    let mut rng = Rng(spec.seed);
    let clients = spec.clients.max(1);
    let mut active: Vec<(u64, usize)> = (0..spec.keys.max(1) as u64).map(|k| (k, 0)).collect();
    let mut fresh = active.len() as u64;
    // Per key: the list (list-append) or the last value (rw-register), and the next value.
    let mut lists: Vec<Vec<u64>> = Vec::new();
    let mut next_value: Vec<u64> = Vec::new();
    let mut pending: Vec<Option<Vec<Planned>>> = vec![None; clients];
    let (mut started, mut index, mut time) = (0usize, 0u64, 0u64);
    let write_f = match spec.model {
        TxnModel::ListAppend => "append",
        TxnModel::RwRegister => "w",
    };
    let mut in_flight = 0;
    while started < spec.txns || in_flight > 0 {
        let c = rng.index(clients);
        time += 1 + rng.index(3) as u64;
        let event = |kind, value| Event {
            index,
            kind,
            process: Process::Client(c as u64),
            f: "txn".into(),
            key: None,
            value,
            time,
            error: None,
            node: None,
            term: None,
        };
        match pending[c].take() {
            None if started < spec.txns => {
                let mut plan = Vec::with_capacity(spec.ops_per_txn);
                for _ in 0..spec.ops_per_txn {
                    let slot = rng.index(active.len());
                    let key = active[slot].0;
                    if rng.index(2) == 0 {
                        plan.push((false, key, 0));
                        continue;
                    }
                    if next_value.len() <= key as usize {
                        next_value.resize(key as usize + 1, 1);
                    }
                    let v = next_value[key as usize];
                    next_value[key as usize] += 1;
                    plan.push((true, key, v));
                    active[slot].1 += 1;
                    if active[slot].1 >= spec.writes_per_key {
                        active[slot] = (fresh, 0);
                        fresh += 1;
                    }
                }
                let value: Vec<Value> = plan
                    .iter()
                    .map(
                        |&(w, k, v)| if w { json!([write_f, k, v]) } else { json!(["r", k, null]) },
                    )
                    .collect();
                sink(event(EventKind::Invoke, Value::Array(value)));
                pending[c] = Some(plan);
                started += 1;
                in_flight += 1;
            }
            None => continue,
            Some(plan) => {
                let mut value = Vec::with_capacity(plan.len());
                for (w, k, v) in plan {
                    if lists.len() <= k as usize {
                        lists.resize(k as usize + 1, Vec::new());
                    }
                    let list = &mut lists[k as usize];
                    value.push(match (w, spec.model) {
                        (true, _) => {
                            match spec.model {
                                TxnModel::ListAppend => list.push(v),
                                TxnModel::RwRegister => *list = vec![v],
                            }
                            json!([write_f, k, v])
                        }
                        (false, TxnModel::ListAppend) => json!(["r", k, list]),
                        (false, TxnModel::RwRegister) => json!(["r", k, list.last()]),
                    });
                }
                sink(event(EventKind::Ok, Value::Array(value)));
                in_flight -= 1;
            }
        }
        index += 1;
    }
}

/// Generates a whole history.
pub fn history(spec: &GenSpec) -> History {
    let mut builder = HistoryBuilder::default();
    let mut line = 0;
    generate(spec, |e| {
        line += 1;
        // Generated events pair and order correctly by construction.
        builder.push(line, e).expect("generated events are well formed");
    });
    builder.finish()
}
