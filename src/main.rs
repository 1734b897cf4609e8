//! The `faultline` command: parses arguments, runs one subcommand, and maps its outcome to the
//! exit codes of DESIGN.md (0 passed, 1 anomaly, 2 unknown, 3 error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = faultline::cli::Cli::parse();
    faultline::init_tracing(cli.verbose);
    match faultline::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            faultline::Exit::Error.into()
        }
    }
}
