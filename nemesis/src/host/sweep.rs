//! Removing what crashed runs left behind, before a new run makes anything: their node
//! processes (through the registry), namespaces and links, and power-loss mounts.
//!
//! A namespace or link named like ours whose tag has no record at all (a deleted file) is
//! removed too.

use crate::{netns, powerfs, state};

/// Cleans up every run whose controller is gone. Returns what was cleaned (tags, paths).
pub(crate) fn sweep_stale(with_netns: bool) -> Vec<String> {
    let scan = state::reap_dead();
    let mut cleaned = Vec::new();
    for (tag, had_netns) in scan.dead {
        if had_netns {
            netns::destroy_tag(&tag);
        }
        cleaned.push(tag);
    }
    for path in powerfs::sweep(&scan.live) {
        cleaned.push(path.display().to_string());
    }
    if with_netns {
        for tag in netns::existing_tags() {
            // Re-check the record: a run writes it before it creates any namespace, so one
            // that started after our scan is not mistaken for a stale one.
            if !scan.live.contains(&tag) && !state::is_registered(&tag) {
                tracing::warn!(tag, "removing namespaces/links left by an unknown run");
                netns::destroy_tag(&tag);
                cleaned.push(tag);
            }
        }
    }
    cleaned
}
