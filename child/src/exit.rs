//! The exit codes of docs/history-format.md, shared by every command and read back by the
//! parents of child runs.

use std::process::ExitCode;

use faultline_checker::Verdict;

/// The exit codes of docs/history-format.md, shared by every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Linearizable / the run passed.
    Pass = 0,
    /// Not linearizable: an anomaly was found.
    Anomaly = 1,
    /// Unknown: a time or memory bound was hit, or the run could not finish its checks.
    Unknown = 2,
    /// Bad input, bad usage, or the harness could not set up.
    Error = 3,
}

impl Exit {
    /// The exit of a process that exited with `code` (`None`: not one of the four, or no code
    /// because a signal ended it).
    pub fn from_code(code: Option<i32>) -> Option<Exit> {
        match code? {
            0 => Some(Exit::Pass),
            1 => Some(Exit::Anomaly),
            2 => Some(Exit::Unknown),
            3 => Some(Exit::Error),
            _ => None,
        }
    }

    /// Whether the command got as far as a verdict (0, 1 or 2).
    pub fn has_verdict(self) -> bool {
        self != Exit::Error
    }

    /// The code as a number.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Verdict> for Exit {
    /// A verdict's exit: linearizable 0, illegal 1, unknown 2.
    fn from(v: Verdict) -> Exit {
        match v {
            Verdict::Linearizable => Exit::Pass,
            Verdict::Illegal => Exit::Anomaly,
            Verdict::Unknown => Exit::Unknown,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_errors_lack_a_verdict() {
        for e in [Exit::Pass, Exit::Anomaly, Exit::Unknown, Exit::Error] {
            assert_eq!(Exit::from_code(Some(i32::from(e.code()))), Some(e));
            assert_eq!(e.has_verdict(), e.code() <= 2);
        }
        assert_eq!(Exit::from_code(Some(4)), None);
        assert_eq!(Exit::from_code(Some(-1)), None);
        assert_eq!(Exit::from_code(None), None);
        let verdicts = [Verdict::Linearizable, Verdict::Illegal, Verdict::Unknown];
        let codes: Vec<u8> = verdicts.into_iter().map(|v| Exit::from(v).code()).collect();
        assert_eq!(codes, [0, 1, 2]);
    }
}
