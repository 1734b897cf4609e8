//! Seeded operation generators with independent keys.
//!
//! ```text
//!   WorkloadSpec + seed ──▶ Generator ──next_op()──▶ Op { f, key, value }
//!                             │  ChaCha8Rng: pick a key slot, pick f by the mix
//!                             │  per key: op count, value counter
//!                             └─ a key that reaches `ops_per_key` is retired and its slot
//!                                gets a fresh key (Jepsen's independent keys)
//! ```
//!
//! The generator is pure: the sequence of operations depends only on the spec and the seed,
//! never on responses or timing. Workers share one generator behind a lock, so which worker
//! gets which operation depends on timing, but the sequence does not.
//!
//! Values are unique per key where the model allows it: register writes and cas new values
//! come from a per-key counter starting at 1, and kv writes are tokens `"<n>,"` from the same
//! counter, so a read names exactly which writes it saw and the checker's reasoning is exact.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

use crate::op::{Func, Op};
pub use faultline_api::{Mix, WorkloadKind};

/// A bad workload specification.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The field at fault (`keys`, `ops_per_key`, `mix`).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadSpec {
    /// The workload.
    pub kind: WorkloadKind,
    /// How many keys are in use at once (1 = a single register at a time).
    pub keys: usize,
    /// After this many operations a key is retired and a fresh key takes its slot; `None`
    /// keeps the same keys for the whole run.
    pub ops_per_key: Option<u64>,
    /// Weights of the functions.
    pub mix: Mix,
}

impl WorkloadSpec {
    /// A spec with the kind's default mix.
    pub fn new(kind: WorkloadKind, keys: usize, ops_per_key: Option<u64>) -> Self {
        WorkloadSpec { kind, keys, ops_per_key, mix: kind.default_mix() }
    }

    /// Checks the spec.
    ///
    /// # Errors
    /// No keys, a zero per-key limit, a function the workload does not have, or no weight.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.keys == 0 {
            return Err(SpecError { field: "keys", message: "must be at least 1".into() });
        }
        if self.ops_per_key == Some(0) {
            return Err(SpecError { field: "ops_per_key", message: "must be at least 1".into() });
        }
        self.kind.check_mix(&self.mix).map_err(|message| SpecError { field: "mix", message })?;
        Ok(())
    }
}

/// One key in use: its name, how many operations it got, and its value counter.
#[derive(Debug, Clone)]
struct KeyState {
    name: String,
    ops: u64,
    /// The next value to write (1-based; 0 is never written).
    next_value: i64,
}

/// The seeded operation generator (see the module docs).
#[derive(Debug, Clone)]
pub struct Generator {
    spec: WorkloadSpec,
    rng: ChaCha8Rng,
    slots: Vec<KeyState>,
    /// Every key handed out so far, in first-use order (the final reads read them all).
    used: Vec<String>,
    next_key: u64,
    /// The mix as cumulative weights, in `Func` order.
    cumulative: Vec<(Func, u32)>,
    generated: u64,
}

impl Generator {
    /// A generator for `spec` seeded with `seed`.
    ///
    /// # Errors
    /// An invalid spec ([`WorkloadSpec::validate`]).
    pub fn new(spec: &WorkloadSpec, seed: u64) -> Result<Self, SpecError> {
        spec.validate()?;
        let mut total = 0;
        let cumulative = spec
            .mix
            .0
            .iter()
            .filter(|(_, w)| **w > 0)
            .map(|(f, w)| {
                total += w;
                (*f, total)
            })
            .collect();
        let mut g = Generator {
            spec: spec.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            slots: Vec::with_capacity(spec.keys),
            used: Vec::new(),
            next_key: 0,
            cumulative,
            generated: 0,
        };
        for _ in 0..spec.keys {
            let k = g.fresh_key();
            g.slots.push(k);
        }
        Ok(g)
    }

    fn fresh_key(&mut self) -> KeyState {
        let name = format!("k{}", self.next_key);
        self.next_key += 1;
        self.used.push(name.clone());
        KeyState { name, ops: 0, next_value: 1 }
    }

    /// The spec this generator follows.
    pub fn spec(&self) -> &WorkloadSpec {
        &self.spec
    }

    /// Every key handed out so far, in first-use order.
    pub fn keys(&self) -> &[String] {
        &self.used
    }

    /// How many operations were generated.
    pub fn generated(&self) -> u64 {
        self.generated
    }

    /// The next operation.
    pub fn next_op(&mut self) -> Op {
        self.generated += 1;
        let slot = self.rng.random_range(0..self.slots.len());
        let total = self.cumulative.last().map_or(1, |(_, t)| *t);
        let pick = self.rng.random_range(0..total);
        // validate() guarantees a positive weight, so some cumulative bound exceeds `pick`.
        let f = self.cumulative.iter().find(|(_, c)| pick < *c).map_or(Func::Read, |(f, _)| *f);
        let back = self.rng.random_range(1..=3i64);
        let kv = self.spec.kind == WorkloadKind::Kv;
        let key = &mut self.slots[slot];
        key.ops += 1;
        let value = match f {
            Func::Read | Func::Get | Func::Delete => Value::Null,
            Func::Write => json!(take(key)),
            Func::Put | Func::Append => json!(format!("{},", take(key))),
            Func::Cas => {
                // Expect one of the last few values written: often right, sometimes not.
                let expected = (key.next_value - back).max(0);
                let new = take(key);
                if kv {
                    json!([format!("{expected},"), format!("{new},")])
                } else {
                    json!([expected, new])
                }
            }
        };
        let op = Op { f, key: key.name.clone(), value };
        if self.spec.ops_per_key.is_some_and(|limit| key.ops >= limit) {
            self.slots[slot] = self.fresh_key();
        }
        op
    }

    /// A final read of `key`.
    pub fn final_read(&self, key: &str) -> Op {
        Op { f: self.spec.kind.read_func(), key: key.to_string(), value: Value::Null }
    }
}

fn take(key: &mut KeyState) -> i64 {
    let v = key.next_value;
    key.next_value += 1;
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;

    fn ops(spec: &WorkloadSpec, seed: u64, n: usize) -> Vec<Op> {
        let mut g = Generator::new(spec, seed).unwrap();
        (0..n).map(|_| g.next_op()).collect()
    }

    #[test]
    fn same_seed_same_operations() {
        for kind in [WorkloadKind::Register, WorkloadKind::CasRegister, WorkloadKind::Kv] {
            let spec = WorkloadSpec::new(kind, 5, Some(20));
            assert_eq!(ops(&spec, 42, 500), ops(&spec, 42, 500));
            assert_ne!(ops(&spec, 42, 500), ops(&spec, 43, 500));
        }
    }

    #[test]
    fn keys_rotate_after_the_limit() {
        let spec = WorkloadSpec::new(WorkloadKind::Register, 3, Some(10));
        let mut g = Generator::new(&spec, 7).unwrap();
        let ops: Vec<Op> = (0..300).map(|_| g.next_op()).collect();
        let mut per_key: BTreeMap<&str, u64> = BTreeMap::new();
        for op in &ops {
            *per_key.entry(&op.key).or_default() += 1;
        }
        assert!(per_key.values().all(|n| *n <= 10), "{per_key:?}");
        // Every key but the 3 currently in the slots got exactly 10 ops.
        let full = per_key.values().filter(|n| **n == 10).count();
        assert_eq!(g.keys().len(), full + 3);
        assert_eq!(per_key.values().sum::<u64>(), 300);
        assert_eq!(&g.keys()[..3], ["k0", "k1", "k2"]);
    }

    #[test]
    fn register_writes_are_unique_per_key() {
        let spec = WorkloadSpec::new(WorkloadKind::CasRegister, 2, None);
        let mut seen: BTreeMap<(String, i64), usize> = BTreeMap::new();
        for op in ops(&spec, 1, 1000) {
            let new = match op.f {
                Func::Write => op.value.as_i64().unwrap(),
                Func::Cas => op.value[1].as_i64().unwrap(),
                _ => continue,
            };
            *seen.entry((op.key, new)).or_default() += 1;
        }
        assert!(seen.values().all(|n| *n == 1));
    }

    /// The checker's polynomial append path needs distinct appends none of which is a prefix
    /// of another (so a get's result splits into appends one way only).
    #[test]
    fn kv_appends_are_distinct_and_prefix_free_per_key() {
        let mut spec = WorkloadSpec::new(WorkloadKind::Kv, 2, None);
        spec.mix = "get=1,append=3".parse().unwrap();
        let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for op in ops(&spec, 3, 2000) {
            if op.f == Func::Append {
                per_key.entry(op.key).or_default().push(op.value.as_str().unwrap().to_string());
            }
        }
        for (key, mut vals) in per_key {
            vals.sort();
            assert!(vals.windows(2).all(|w| !w[1].starts_with(w[0].as_str())), "{key}: {vals:?}");
        }
    }

    #[test]
    fn mix_is_respected_and_validated() {
        let mut spec = WorkloadSpec::new(WorkloadKind::Kv, 1, None);
        spec.mix = "get=1,append=0".parse().unwrap();
        assert!(ops(&spec, 3, 100).iter().all(|op| op.f == Func::Get));
        spec.mix = "read=1".parse().unwrap();
        let err = Generator::new(&spec, 0).unwrap_err();
        assert_eq!(err.field, "mix");
        assert!(err.message.contains("read is not an operation of the kv workload"));
        assert!("get=x".parse::<Mix>().is_err());
        spec.keys = 0;
        assert_eq!(spec.validate().unwrap_err().field, "keys");
    }

    #[test]
    fn value_shapes_follow_the_history_format() {
        let spec = WorkloadSpec::new(WorkloadKind::Kv, 1, None);
        for op in ops(&spec, 9, 50) {
            match op.f {
                Func::Get => assert_eq!(op.value, Value::Null),
                Func::Put | Func::Append => assert!(op.value.as_str().unwrap().ends_with(',')),
                other => panic!("unexpected {other}"),
            }
        }
    }
}
