//! Checks a history file and writes its report, as `faultline check` does:
//! `cargo run -p faultline-reports --example check_report -- FILE MODEL OUT_DIR`.

use faultline_checker::formats::{self, Format};
use faultline_checker::{check, CheckOptions, ModelSpec};
use faultline_reports::{write_report, ReportInput};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, model, out] = args.as_slice() else {
        anyhow::bail!("usage: check_report FILE MODEL OUT_DIR");
    };
    let history = formats::read_path(file.as_ref(), Format::Auto)?;
    let model: ModelSpec = model.parse()?;
    let result = check(&history, &model, &CheckOptions::default())?;
    std::fs::create_dir_all(out)?;
    let input = ReportInput::new(format!("check of {file}"), &history, &result)
        .command(format!("faultline check --model {} {file}", model.name()));
    let path = write_report(out.as_ref(), &input)?;
    println!("{}: {:?}", path.display(), result.verdict);
    Ok(())
}
