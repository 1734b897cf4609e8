//! The small-domain rows of `faultline bench checker`: one register whose writes draw from
//! values 1–5 under many concurrent clients, where no value names its write and plain WGL
//! gives up. The histories come from `faultline_checker::synth` (seeded, linearizable by
//! construction; each has a twin with one certainly-stale read):
//!
//! ```text
//!  10,000 ops × {20, 50} clients × {0 %, 1 %} info × {linearizable, stale twin}
//!      ──default checker (certificates, reduced search) and plain WGL, < 5 s, < 1 GiB──▶ rows
//!  40 concurrent writes of 1 and 2, then a read of 3 (and, for the search, reads 1, 2, 1)
//!  10,000 ops, 1 % info, clients 20 … 2,000 under 60 s: how far the default checker goes
//! ```
// A benchmark reads the wall clock by definition.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use faultline_checker::synth::{concurrent_writes, register, Spec};
use faultline_checker::{CheckOptions, ModelSpec, Uniqueness};

use super::hot::row;

/// Prints the small-domain rows.
///
/// # Errors
/// A history the checker rejects (a generator bug).
pub fn run() -> anyhow::Result<()> {
    let model = ModelSpec::Register { initial: None };
    let limits = |secs: f64| CheckOptions {
        time_limit: Some(Duration::from_secs_f64(secs)),
        memory_limit: Some(1 << 30),
        ..CheckOptions::default()
    };
    let plain = |o: CheckOptions| CheckOptions { unique_values: Uniqueness::Off, ..o };
    println!(
        "\nsmall value domains (one register, writes of 1–5, 10,000 ops, seed 29; peak = \
         process VmHWM during the check; goal < 5 s, < 1 GiB; plain WGL under the same limits)"
    );
    for clients in [20, 50] {
        for info_permille in [0, 10] {
            for stale in [false, true] {
                let spec = Spec { ops: 10_000, clients, values: 5, info_permille, seed: 29, stale };
                let h = register(&spec);
                println!(
                    "{clients} clients, {}% info, {}",
                    info_permille / 10,
                    if stale { "one certainly-stale read" } else { "linearizable" }
                );
                row("default", &h, &model, &limits(5.0))?;
                row("WGL alone", &h, &model, &plain(limits(5.0)))?;
            }
        }
    }
    println!("40 concurrent writes of 1 and 2 (goal < 10 ms)");
    for (label, reads) in [("then a read of 3", &[3][..]), ("then reads 1, 2, 1", &[1, 2, 1])] {
        let h = concurrent_writes(40, reads);
        row(&format!("{label}: default"), &h, &model, &limits(5.0))?;
        row(&format!("{label}: WGL alone"), &h, &model, &plain(limits(5.0)))?;
    }
    println!(
        "10,000 ops, 1% info, linearizable, by client count (default checker, < 60 s, < 1 GiB)"
    );
    for clients in [20, 50, 100, 200, 500, 1000, 2000] {
        let spec =
            Spec { ops: 10_000, clients, values: 5, info_permille: 10, seed: 29, stale: false };
        row(&format!("{clients} clients"), &register(&spec), &model, &limits(60.0))?;
    }
    Ok(())
}
