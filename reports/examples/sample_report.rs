//! Writes a report of a synthetic history, for looking at and for timing the page:
//! `cargo run --release -p faultline-reports --example sample_report -- OUT_DIR [OPS] [KEYS]`.
#![allow(clippy::disallowed_methods)] // measures its own wall-clock time

use faultline_reports::sample::{generate, SampleSpec};
use faultline_reports::{write_report, ReportInput};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "sample-report".into()));
    let ops: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let keys: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    std::fs::create_dir_all(&dir)?;
    let spec = SampleSpec { ops, keys, workers: 8, ..SampleSpec::default() };
    let (history, result) = generate(&spec);
    let config = serde_json::json!({"test": "sample", "seed": spec.seed, "ops": ops, "keys": keys});
    let start = std::time::Instant::now();
    let input = ReportInput::new("sample", &history, &result).config(&config).command(format!(
        "cargo run -p faultline-reports --example sample_report -- {} {ops} {keys}",
        dir.display()
    ));
    let path = write_report(&dir, &input)?;
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "{}: {} ops, verdict {:?}, {bytes} bytes, rendered in {:?}",
        path.display(),
        history.ops.len(),
        result.verdict,
        start.elapsed()
    );
    Ok(())
}
