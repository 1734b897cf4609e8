//! faultline: Jepsen-style linearizability testing of real Raft/KV clusters.
//!
//! This crate is the `faultline` command. It wires the member crates together:
//!
//! # Layout
//! - [`cli`]: the clap definitions (one `Args` struct per subcommand lives in its `cmd` file).
//! - [`cmd`]: one thin module per subcommand (`check`, `run`, `serve`, `bench`, `campaign`).
//! - [`campaign`]: `faultline campaign` (matrices of runs, shards, merges).
//! - [`runner`]: the orchestration of `faultline run` (cluster, workload, nemesis, store).
//! - [`Exit`]: the exit codes every command shares.

pub mod campaign;
pub mod cli;
pub mod cmd;
pub mod runner;

/// The exit codes every command shares (defined with the child-run protocol, whose parents
/// read them back).
pub use faultline_child::Exit;

/// Runs the parsed command line and returns its exit code.
///
/// # Errors
/// Any error the command reports; `main` prints it and exits with [`Exit::Error`].
pub fn run(cli: cli::Cli) -> anyhow::Result<Exit> {
    match cli.command {
        cli::Command::Check(args) => cmd::check::run(args),
        cli::Command::Run(args) => cmd::run::run(*args),
        cli::Command::Serve(args) => cmd::serve::run(args),
        cli::Command::Bench(args) => cmd::bench::run(args),
        cli::Command::Campaign(args) => cmd::campaign::run(*args),
    }
}

/// Sends logs through `tracing` to stderr; `-v` raises the level, `RUST_LOG` overrides it.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},fuser=error")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr_is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Whether stderr is a terminal: colour codes only then (not in CI logs, files or pipes).
pub fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
