//! The `reconfigure` fault (sharded KV only): bursts of joins, leaves and moves through the
//! shard controller for the whole fault period, each recorded as a nemesis event
//! `{"f":"join|leave|move","value":{"change":…,"from":n,"to":n+1}}`.
//!
//! ```text
//!  until the period ends:
//!    burst of 1..=4 changes: query latest config n ─▶ plan (seeded) ─▶ Admin::change
//!        ─▶ event {change, from: n, to: the config it made (null when refused/unknown)}
//!    pause 200..1000 ms
//! ```
//!
//! [`plan`] never removes the last group: every shard assigned to no group would be dropped
//! (docs/sharded.md), which is data loss by design, not a bug of the system under test.
//! Back-to-back changes are what exposes a group that skips configurations (`config-skip`).
#![allow(clippy::disallowed_methods)] // the nemesis waits in real time: it is an I/O driver

use std::collections::BTreeMap;
use std::time::Duration;

use faultline_api::shard::{Gid, ShardConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::shards::{layout, Admin, Change, Outcome};
use crate::{Cluster, EventName, FaultEvent, FaultOutcome};

/// Time one change may take, retries included.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(3);

/// The next change for a controller at `cfg`, among the groups `all` (gid → servers):
/// moves twice as often as joins and leaves; a join only of a group not in `cfg`, a leave
/// only while another group stays.
pub fn plan(
    rng: &mut ChaCha8Rng,
    cfg: &ShardConfig,
    all: &BTreeMap<Gid, Vec<String>>,
) -> Option<Change> {
    let joined: Vec<Gid> = cfg.groups.keys().copied().filter(|g| all.contains_key(g)).collect();
    let out: Vec<Gid> = all.keys().copied().filter(|g| !cfg.groups.contains_key(g)).collect();
    let mut kinds = Vec::new();
    if !joined.is_empty() && !cfg.shards.is_empty() {
        kinds.extend(["move", "move"]);
    }
    if !out.is_empty() {
        kinds.push("join");
    }
    if joined.len() > 1 {
        kinds.push("leave");
    }
    let kind = *kinds.get(rng.random_range(0..kinds.len().max(1)))?;
    Some(match kind {
        "join" => {
            let gid = out[rng.random_range(0..out.len())];
            Change::Join(BTreeMap::from([(gid, all[&gid].clone())]))
        }
        "leave" => Change::Leave(vec![joined[rng.random_range(0..joined.len())]]),
        _ => {
            let shard = rng.random_range(0..cfg.shards.len());
            let others: Vec<Gid> =
                joined.iter().copied().filter(|g| *g != cfg.owner(shard)).collect();
            let pick = if others.is_empty() { &joined } else { &others };
            Change::Move { shard, gid: pick[rng.random_range(0..pick.len())] }
        }
    })
}

/// Runs bursts of changes until `end`, reporting each on `events`.
pub async fn bursts(
    cluster: &Cluster,
    seed: u64,
    end: Instant,
    events: &UnboundedSender<FaultEvent>,
) {
    let (controllers, all) = layout(cluster);
    let mut admin = Admin::new(controllers);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while Instant::now() < end {
        let burst = rng.random_range(1..=4);
        for _ in 0..burst {
            if Instant::now() >= end {
                break;
            }
            let Some(cfg) = admin.query(CHANGE_TIMEOUT).await else {
                let why = FaultOutcome::Skipped("the shard controller did not answer".into());
                let _ = events.send(FaultEvent::new(EventName::Move, json!({}), why));
                break;
            };
            let Some(change) = plan(&mut rng, &cfg, &all) else { break };
            // The owners of every shard before and after (`shards[s]` = gid, 0 = none): what
            // the report draws as shard ownership over time.
            let (to, shards, outcome) = match admin.change(&change, CHANGE_TIMEOUT).await {
                Outcome::Done(next) => {
                    (json!(next.num), json!(next.shards), FaultOutcome::Installed)
                }
                Outcome::Refused(why) => (json!(null), json!(null), FaultOutcome::Skipped(why)),
                Outcome::Unknown(why) => {
                    (json!(null), json!(null), FaultOutcome::Indeterminate(why))
                }
            };
            tracing::info!(f = change.event().f(), from = cfg.num, %to, outcome = outcome.as_str(), "nemesis");
            let value = json!({
                "change": change.to_json(),
                "from": cfg.num,
                "to": to,
                "was": cfg.shards,
                "shards": shards,
            });
            let _ = events.send(FaultEvent::new(change.event(), value, outcome));
        }
        let pause = Duration::from_millis(rng.random_range(200..1000));
        tokio::time::sleep_until((Instant::now() + pause).min(end)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_never_remove_the_last_group_and_join_only_newcomers() {
        let all: BTreeMap<Gid, Vec<String>> =
            (1..=3).map(|g| (Gid(g), vec![format!("h:{g}")])).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut cfg = ShardConfig::initial(10);
        assert_eq!(plan(&mut rng, &cfg, &BTreeMap::new()), None, "no group to join");
        let mut seen = BTreeMap::new();
        for _ in 0..500 {
            let change = plan(&mut rng, &cfg, &all).expect("a change");
            *seen.entry(change.event().f()).or_insert(0) += 1;
            match change {
                Change::Join(g) => {
                    let (gid, addrs) = g.into_iter().next().unwrap();
                    assert!(!cfg.groups.contains_key(&gid));
                    cfg.groups.insert(gid, addrs);
                }
                Change::Leave(g) => {
                    assert!(cfg.groups.len() > 1, "the last group never leaves");
                    cfg.groups.remove(&g[0]);
                }
                Change::Move { shard, gid } => {
                    assert!(cfg.groups.contains_key(&gid) && shard < 10);
                    cfg.shards[shard] = gid;
                }
            }
            assert!(!cfg.groups.is_empty());
        }
        assert!(seen.len() == 3 && seen["move"] > seen["join"], "{seen:?}");
    }
}
