//! The lines a child writes on stderr with `--progress-json`, written and read back with one
//! type: a run's [`ProgressLine`] (`{"progress": {..}}`), a campaign's
//! [`CampaignProgressLine`] (`{"campaign_progress": {..}}`), and anything else is a log line.

use faultline_api::{Progress, ProgressLine};
use faultline_store::campaign::{CampaignProgress, CampaignProgressLine};

/// One line of a child's stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildLine {
    /// A run's progress.
    Run(ProgressLine),
    /// A campaign's progress.
    Campaign(CampaignProgressLine),
    /// Any other line (logs, errors).
    Log(String),
}

impl ChildLine {
    /// What `line` is (a line that is not a progress object is a log line).
    pub fn parse(line: &str) -> ChildLine {
        if let Ok(p) = serde_json::from_str::<ProgressLine>(line) {
            return ChildLine::Run(p);
        }
        if let Ok(p) = serde_json::from_str::<CampaignProgressLine>(line) {
            return ChildLine::Campaign(p);
        }
        ChildLine::Log(line.to_string())
    }

    /// A run's progress line.
    pub fn run(progress: Progress) -> ChildLine {
        ChildLine::Run(ProgressLine { progress })
    }

    /// A campaign's progress line.
    pub fn campaign(progress: CampaignProgress) -> ChildLine {
        ChildLine::Campaign(CampaignProgressLine { campaign_progress: progress })
    }

    /// The line as the child writes it (one line of JSON for progress, the text for a log).
    pub fn to_line(&self) -> String {
        let json = match self {
            ChildLine::Run(p) => serde_json::to_string(p),
            ChildLine::Campaign(p) => serde_json::to_string(p),
            ChildLine::Log(s) => return s.clone(),
        };
        // Both are plain structs of numbers, strings and maps with string keys.
        json.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use faultline_api::LiveCounts;

    #[test]
    fn lines_read_back_as_written() {
        let run = ChildLine::run(Progress {
            elapsed_secs: 5.0,
            counts: LiveCounts { invoked: 3, ok: 2, ..LiveCounts::default() },
            fault: "partition".into(),
        });
        assert_eq!(ChildLine::parse(&run.to_line()), run);
        let campaign = ChildLine::campaign(CampaignProgress {
            campaign: "nightly/20261204T190000.000Z".into(),
            done: 1,
            total: 4,
            running: vec!["c1".into()],
            counts: BTreeMap::new(),
            last: None,
        });
        assert_eq!(ChildLine::parse(&campaign.to_line()), campaign);
        let log = ChildLine::parse("error: no such file");
        assert_eq!(log, ChildLine::Log("error: no such file".into()));
        assert_eq!(
            ChildLine::parse("{\"progress\": 5}"),
            ChildLine::Log("{\"progress\": 5}".into())
        );
    }
}
