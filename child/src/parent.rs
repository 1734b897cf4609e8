//! The parent-pid watch: a parent puts its pid in [`PARENT_PID_ENV`] when it starts a child;
//! the child stops (removing its cluster) once its parent is gone, seen as a change of its
//! parent pid (a dead parent sends nothing; its children are re-parented).
//!
//! ```text
//!  supervise: env FAULTLINE_PARENT_PID = parent's pid ─▶ child: watched() ─▶ gone(pid).await
//! ```
// Watching the parent polls in real time.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

/// The environment variable through which a child learns the pid of the parent
/// (`faultline serve`, `faultline campaign`) that started it.
pub const PARENT_PID_ENV: &str = "FAULTLINE_PARENT_PID";

/// The parent this process must watch: the pid in [`PARENT_PID_ENV`], if set and a number.
pub fn watched() -> Option<u32> {
    std::env::var(PARENT_PID_ENV).ok().and_then(|p| p.trim().parse().ok())
}

/// Resolves once this process's parent is no longer `parent` (never when `None`).
pub async fn gone(parent: Option<u32>) {
    let Some(parent) = parent else { return std::future::pending().await };
    while std::os::unix::process::parent_id() == parent {
        // Polled: a dead parent sends nothing, and its death is only seen by re-parenting.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gone_resolves_for_another_parent_and_waits_for_ours() {
        // A pid that is not our parent: resolved at once.
        let other = std::os::unix::process::parent_id().wrapping_add(1);
        tokio::time::timeout(Duration::from_secs(2), gone(Some(other))).await.unwrap();
        // Our own parent is alive: still waiting.
        let ours = std::os::unix::process::parent_id();
        let waited = tokio::time::timeout(Duration::from_millis(500), gone(Some(ours))).await;
        assert!(waited.is_err());
        let none = tokio::time::timeout(Duration::from_millis(100), gone(None)).await;
        assert!(none.is_err());
    }
}
