//! faultline-api: the vocabulary faultline's crates, processes and users share, defined once.
//!
//! Names (faults, systems, workloads, bugs, read modes) are enums declared with [`names!`];
//! the run's settings are declared once with [`layered!`] and serve as flags, test files,
//! `test.json` and posted specs alike; the node's HTTP API is typed in [`node`] and used by
//! the node, the clients and the nemesis. Every crate of the workspace may depend on this one;
//! it depends on none of them.
//!
//! # Layout
//! - [`mod@names`]: the `names!` macro (enum ⇄ name, one mechanism).
//! - [`mod@layered`]: the `layered!` macro (flags over file over defaults), [`ConfigError`].
//! - [`node`]: the node's client and admin wire types, [`UnsafeBug`], [`ReadMode`].
//! - [`fault`], [`workload`], [`run`]: `--nemesis`, `--workload`/`--mix`, and every run
//!   setting ([`RunSettings`], [`RunConfig`]).
//! - [`shard`]: the sharded KV's key → shard map, configurations and controller API.
//! - [`counts`]: the counters a run reports.
//! - [`maelstrom`]: Maelstrom's node protocol, its error codes, the client gateway's wire
//!   type and the network counts of a Maelstrom run.
//!
//! # Examples
//! ```
//! use faultline_api::{Fault, RunSettings};
//! let s = RunSettings::parse_spec("spec.toml", "nemesis = \"kill\"\nseed = 3", false).unwrap();
//! let cfg = s.into_config().unwrap();
//! assert_eq!(cfg.nemesis.iter().collect::<Vec<_>>(), [Fault::Kill]);
//! assert_eq!(cfg.test_name(), "faultline-kv-kill-3n");
//! ```
#![deny(missing_docs)]

pub mod counts;
pub mod fault;
pub mod fuse;
pub mod layered;
pub mod maelstrom;
pub mod names;
pub mod node;
pub mod reply;
pub mod run;
pub mod shard;
pub mod target;
pub mod workload;

pub use counts::{FinalReads, LiveCounts, Progress, ProgressLine};

/// The crates the macros expand to, so that a crate using them needs neither directly.
#[doc(hidden)]
pub mod reexport {
    pub use clap;
    pub use serde;
}
pub use fault::{Edge, EventName, Fault, FaultEvent, FaultList, FaultOutcome, Target, TargetList};
pub use layered::{ConfigError, Layer};
pub use node::{ReadMode, UnsafeBug};
pub use run::{RunConfig, RunSettings};
pub use target::{Backend, SystemKind};
pub use workload::{Func, Mix, WorkloadKind};

/// The name of the node at 0-based position `i` in a cluster: `n1`, `n2`, … — in histories,
/// store paths, nemesis events and logs alike.
pub fn node_name(i: usize) -> String {
    format!("n{}", i + 1)
}

/// `s` cut to at most `max` characters, with `…` and the full length when cut, so that
/// messages never echo a hostile value whole.
pub fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}… ({} bytes)", &s[..at], s.len()),
    }
}

/// Implements `Serialize` through `Display` and `Deserialize` through `FromStr` (whose error
/// displays), for types written as one string (`"partition,kill"`, `"read=2,write=1"`).
#[macro_export]
macro_rules! string_form {
    ($ty:ty) => {
        impl $crate::reexport::serde::Serialize for $ty {
            fn serialize<S: $crate::reexport::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> $crate::reexport::serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::reexport::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::reexport::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err($crate::reexport::serde::de::Error::custom)
            }
        }
    };
}
