//! The configuration of a run. Every setting is declared once, in
//! [`faultline_api::run`] ([`RunSettings`]: flags, test files, `test.json`, posted specs);
//! this module only adds what needs the workloads crate.
//!
//! ```text
//!  defaults ◀── spec file / test.json (RunSettings, per-field errors name file and field)
//!           ◀── command-line flags (RunSettings, flattened into `faultline run`)
//!           ──into_config──▶ RunConfig (seed chosen if absent) ──▶ test.json
//! ```
//! `test.json` uses the same keys as a spec file, so `--replay` reads it back as one.

pub use faultline_api::{ConfigError, Layer, RunConfig, RunSettings};
use faultline_workloads::WorkloadSpec;

/// The workload spec for the generator.
pub fn workload_spec(cfg: &RunConfig) -> WorkloadSpec {
    let limit = (cfg.ops_per_key > 0).then_some(cfg.ops_per_key);
    let mut spec = WorkloadSpec::new(cfg.workload, cfg.keys, limit);
    if let Some(mix) = &cfg.mix {
        spec.mix = mix.clone();
    }
    spec
}
