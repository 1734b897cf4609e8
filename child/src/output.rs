//! A child's stdout: `faultline run --json` prints its `results.json` object there, read back
//! with the type that wrote it.

use faultline_store::results::RunResults;

/// The run's results in `stdout`: the whole of it, or else its last line that is one (a
/// child may print other lines before it).
pub fn run_results(stdout: &str) -> Option<RunResults> {
    serde_json::from_str::<RunResults>(stdout.trim())
        .ok()
        .or_else(|| stdout.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_result_is_none() {
        assert!(run_results("").is_none());
        assert!(run_results("{\"verdict\": \"linearizable\"}\n").is_none());
        assert!(run_results("error: no such spec\n").is_none());
    }
}
