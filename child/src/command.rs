//! The command line of a child, built once from a typed spec: the campaign's cells and the
//! server's queued runs and campaigns all start their children through [`ChildCommand`], and
//! the binary's tests parse these same arguments with its own clap definitions.
//!
//! ```text
//!  ChildCommand::Run { test, store, verbose }
//!     ─▶ faultline [-v] run --test <test> [--store <store>] --json --progress-json
//!  ChildCommand::Campaign { file }
//!     ─▶ faultline campaign <file> --json --no-progress --progress-json
//! ```
//! Both ask for `--json` (the result on stdout) and `--progress-json` (one [`crate::ChildLine`]
//! per progress line on stderr): the parent reads both back with the types that wrote them.

use std::ffi::OsString;
use std::path::PathBuf;

/// What a child runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildCommand {
    /// `faultline run` of a spec file (a run's `test.json` or a test spec).
    Run {
        /// The spec (`--test`).
        test: PathBuf,
        /// The store (`--store`); `None`: the spec's own.
        store: Option<PathBuf>,
        /// `-v`: info logs on stderr (the server shows them as the run's progress).
        verbose: bool,
    },
    /// `faultline campaign` of a campaign file (its store is in the file's `[defaults]`).
    Campaign {
        /// The campaign file.
        file: PathBuf,
    },
}

impl ChildCommand {
    /// `run`, `campaign`: the subcommand, in messages.
    pub fn what(&self) -> &'static str {
        match self {
            ChildCommand::Run { .. } => "run",
            ChildCommand::Campaign { .. } => "campaign",
        }
    }

    /// The arguments (without the program).
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        match self {
            ChildCommand::Run { test, store, verbose } => {
                if *verbose {
                    args.push("-v".into());
                }
                args.extend(["run".into(), "--test".into(), test.into()]);
                if let Some(store) = store {
                    args.extend(["--store".into(), store.into()]);
                }
                args.extend(["--json".into(), "--progress-json".into()]);
            }
            ChildCommand::Campaign { file } => {
                args.extend(["campaign".into(), file.into()]);
                args.extend(["--json".into(), "--no-progress".into(), "--progress-json".into()]);
            }
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(c: &ChildCommand) -> Vec<String> {
        c.args().iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_command_lines() {
        let run = ChildCommand::Run {
            test: "s/.specs/run-1.json".into(),
            store: Some("s".into()),
            verbose: true,
        };
        assert_eq!(
            strings(&run),
            [
                "-v",
                "run",
                "--test",
                "s/.specs/run-1.json",
                "--store",
                "s",
                "--json",
                "--progress-json"
            ]
        );
        let cell = ChildCommand::Run { test: "c/0001.json".into(), store: None, verbose: false };
        assert_eq!(strings(&cell), ["run", "--test", "c/0001.json", "--json", "--progress-json"]);
        let campaign = ChildCommand::Campaign { file: "x.toml".into() };
        assert_eq!(
            strings(&campaign),
            ["campaign", "x.toml", "--json", "--no-progress", "--progress-json"]
        );
        assert_eq!((run.what(), campaign.what()), ("run", "campaign"));
    }
}
