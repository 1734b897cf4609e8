//! The transactional rows of `faultline bench checker` (and `faultline bench txn`): a
//! list-append history of a simulated serializable store (10 clients, 4 micro-ops per
//! transaction, 1,000 active keys, each retired after 32 appends), checked against strict
//! serializability. Prints the check's wall time and the process's peak resident memory.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use faultline_checker::txn::gen::{self, GenSpec};
use faultline_checker::txn::{self, ConsistencyModel, TxnModel};

/// Arguments of `faultline bench txn`.
#[derive(Debug, Args)]
pub struct TxnBench {
    /// History sizes, in transactions.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    pub txns: Vec<usize>,
    /// Also write each generated history as JSONL into this folder (to time
    /// `faultline check --model list-append` on it).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
}

/// The spec of the benchmark's histories.
pub fn spec(txns: usize) -> GenSpec {
    GenSpec {
        txns,
        clients: 10,
        ops_per_txn: 4,
        keys: 1000,
        writes_per_key: 32,
        ..GenSpec::default()
    }
}

/// A line of `/proc/self/status` (`VmHWM`, `VmRSS`) in MiB; `None` off Linux.
fn status_mib(field: &str) -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn mib(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |m| format!("{m:.0} MiB"))
}

/// Prints one row per size.
///
/// # Errors
/// A history that cannot be written (with `save`), or one the checker rejects.
pub fn run(args: &TxnBench) -> anyhow::Result<()> {
    println!("\nlist-append (10 clients, 4 micro-ops per txn, 1,000 keys, strict-serializable)");
    for &n in &args.txns {
        let spec = spec(n);
        if let Some(dir) = &args.save {
            let path = dir.join(format!("list-append-{n}.jsonl"));
            let file = std::fs::File::create(&path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let mut result = Ok(());
            gen::generate(&spec, |e| {
                if result.is_ok() {
                    result = serde_json::to_writer(&mut out, &e)
                        .map_err(anyhow::Error::from)
                        .and_then(|()| Ok(out.write_all(b"\n")?));
                }
            });
            result.with_context(|| format!("writing {}", path.display()))?;
            out.flush()?;
            println!("  wrote {}", path.display());
        }
        let history = gen::history(&spec);
        let before = status_mib("VmRSS:");
        let t = Instant::now();
        let r = txn::check(&history, TxnModel::ListAppend, ConsistencyModel::StrictSerializable)?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "  {n:>9} txns  {:>10.3} s  valid {}  {} edges  history in memory {}  peak RSS {}",
            secs,
            r.valid,
            r.counts.edges,
            mib(before),
            mib(status_mib("VmHWM:"))
        );
    }
    Ok(())
}
