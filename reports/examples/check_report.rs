//! Checks a history file and writes its report, as `faultline check` does:
//! `cargo run -p faultline-reports --example check_report -- FILE MODEL OUT_DIR [TEST_JSON]`
//! (with a run's `test.json`, the report is titled and configured as the run's own).

use faultline_checker::formats::{self, Format};
use faultline_checker::{check, CheckOptions, ModelSpec};
use faultline_reports::{write_report, ReportInput};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, model, out, test) = match args.as_slice() {
        [f, m, o] => (f, m, o, None),
        [f, m, o, t] => (f, m, o, Some(t)),
        _ => anyhow::bail!("usage: check_report FILE MODEL OUT_DIR [TEST_JSON]"),
    };
    let config: Option<serde_json::Value> = test
        .map(|t| std::fs::read(t).map(|b| serde_json::from_slice(&b)))
        .transpose()?
        .transpose()?;
    let history = formats::read_path(file.as_ref(), Format::Auto)?;
    let model: ModelSpec = model.parse()?;
    let result = check(&history, &model, &CheckOptions { threads: 1, ..CheckOptions::default() })?;
    std::fs::create_dir_all(out)?;
    let title = config
        .as_ref()
        .and_then(|c| c.get("name"))
        .and_then(|n| n.as_str())
        .map_or_else(|| format!("check of {file}"), str::to_string);
    let mut input = ReportInput::new(title, &history, &result)
        .command(format!("faultline check --model {} {file}", model.name()));
    if let Some(c) = &config {
        input =
            input.config(c).command(format!("faultline run --replay {}", test.map_or("", |t| t)));
    }
    let path = write_report(out.as_ref(), &input)?;
    println!("{}: {:?}", path.display(), result.verdict);
    Ok(())
}
