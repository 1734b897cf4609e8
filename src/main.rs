//! The `faultline` command: parses arguments, runs one subcommand, and maps its outcome to the
//! exit codes of `docs/history-format.md` (0 passed, 1 anomaly, 2 unknown, 3 error — bad
//! usage included).

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

fn main() -> ExitCode {
    let cli = match faultline::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` are answers, not errors; clap would exit 2 on bad
            // usage, but the exit codes keep 2 for "unknown".
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => faultline::Exit::Error.into(),
            };
        }
    };
    faultline::init_tracing(cli.verbose);
    match faultline::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            faultline::Exit::Error.into()
        }
    }
}
