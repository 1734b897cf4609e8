//! The `membership` fault: remove members through the leader, and at the end of the period
//! wipe them and add them back as newcomers. Each step is a nemesis event naming the nodes
//! and the configuration it made.
//!
//! ```text
//! remove(nodes, cut):  leader's view ─▶ under a partition (cut), the voters the leader cannot
//!              reach instead of the planned node (as an operator replaces members that look
//!              dead), never below MIN_VOTERS voters (check_removal)
//!              ─▶ POST remove to the leader for each, the next as soon as the previous was
//!              accepted (retry: not-leader, busy) ─▶ wait until some other member sees them
//!              committed ─▶ mark them removed (they keep running, cut off, until the end)
//!              ─▶ event remove-member {nodes, voters}
//! add_back(n): stop n, wipe its data dir ─▶ POST add (learner)
//!              ─▶ event add-member {nodes:[n], voters, learners}
//!              ─▶ start n empty as a newcomer (faultline: --join; etcd: the members and
//!              --initial-cluster-state existing) ─▶ POST promote (retry: busy, not caught
//!              up) ─▶ wait until committed ─▶ n is a voter again
//!              ─▶ event promote-member {nodes:[n], voters}
//! ```
//!
//! The requests of one removal share [`STEP_TIMEOUT`]. A removal not seen committed within
//! it is `Indeterminate` and the node is kept as it is (wiping a node that may still vote
//! would be amnesia, a fault of the harness, not a bug of the system). `add_back` goes from
//! whatever state it finds: a voter is left alone, a learner is only promoted (started first
//! when down), a removed member is wiped, added, then started.
//! A leader that accepts a change before the previous one committed
//! (`--unsafe-bug membership-overlap`) gets the chance to: with two members cut off behind a
//! partition, it can hand a minority with itself a quorum of the new configuration while the
//! cut-off side still forms one of the old.
#![allow(clippy::disallowed_methods)] // the nemesis waits in real time: it is an I/O driver

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::fault::names;
use crate::partition::Grudge;
use crate::system::{ChangeAnswer, MemberChange, MemberView};
use crate::{Cluster, Error, EventName, FaultEvent, FaultOutcome};

/// The fewest voters a removal leaves ([`faultline_api::fault::MEMBERSHIP_MIN_VOTERS`]).
pub const MIN_VOTERS: usize = faultline_api::fault::MEMBERSHIP_MIN_VOTERS;

/// Time one step (the changes accepted, then seen committed) may take, retries included; a
/// learner catching up (a snapshot to install) gets twice as long.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause between retries.
const RETRY: Duration = Duration::from_millis(100);

/// Why `node` cannot be removed from `voters`, when it cannot: it is no voter, or the
/// cluster would be left with fewer than [`MIN_VOTERS`].
pub fn check_removal(voters: &[usize], node: usize) -> Result<(), String> {
    let name = faultline_api::node_name(node);
    if !voters.contains(&node) {
        return Err(format!("{name} is not a voter"));
    }
    if voters.len() - 1 < MIN_VOTERS {
        return Err(format!(
            "removing {name} would leave {} voters (never fewer than {MIN_VOTERS})",
            voters.len() - 1
        ));
    }
    Ok(())
}

/// The current leader's name and its view of the membership.
async fn leader_view(cluster: &Cluster) -> Result<Option<(String, MemberView)>, Error> {
    let Some(leader) = cluster.leader().await else { return Ok(None) };
    Ok(cluster.members(&leader).await?.map(|v| (leader, v)))
}

/// Asks the leader for `change` of `node` until one accepts it, refuses it for good, or
/// `deadline` passes.
async fn change(
    cluster: &Cluster,
    change: MemberChange,
    node: &str,
    deadline: Instant,
) -> Result<ChangeAnswer, Error> {
    let mut last = "no leader known".to_string();
    while Instant::now() < deadline {
        if let Some(leader) = cluster.leader().await {
            let answer = cluster.change_member(&leader, change, node).await?;
            tracing::debug!(change = change.name(), node, leader, ?answer, "membership");
            match answer {
                ChangeAnswer::Retry(why) => last = why,
                done => return Ok(done),
            }
        }
        tokio::time::sleep(RETRY).await;
    }
    Ok(ChangeAnswer::Retry(format!("{} {node}: {last}", change.name())))
}

/// Waits until a running member other than `except` sees a committed configuration that
/// `done` accepts; returns that view, or `None` after [`STEP_TIMEOUT`] with the last
/// committed view seen (if any) in `last`.
async fn committed(
    cluster: &Cluster,
    except: &[usize],
    done: impl Fn(&MemberView) -> bool,
    last: &mut Option<MemberView>,
) -> Result<Option<MemberView>, Error> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let names = cluster.node_names();
    while Instant::now() < deadline {
        for (_, n) in names.iter().enumerate().filter(|(i, _)| !except.contains(i)) {
            if let Some(v) = cluster.members(n).await? {
                if v.committed && done(&v) {
                    return Ok(Some(v));
                }
                if v.committed {
                    *last = Some(v);
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
    Ok(None)
}

/// The voters the leader cannot reach under `cut` (both ways are needed), in order.
fn cut_off(voters: &[usize], leader: usize, cut: &Grudge) -> Vec<usize> {
    let reach = |v: usize| cut.allows(leader, v) && cut.allows(v, leader);
    voters.iter().copied().filter(|&v| v != leader && !reach(v)).collect()
}

/// Removes `planned` — or under the partition `cut`, the voters the leader cannot reach (as
/// many as [`MIN_VOTERS`] allows) — through the leader, one request right after the other;
/// marks the ones seen committed removed. Returns the nodes asked for, and the
/// `remove-member` event's value and outcome.
///
/// # Errors
/// Harness failures only.
pub async fn remove(
    cluster: &Cluster,
    planned: Vec<usize>,
    cut: Option<&Grudge>,
) -> Result<(Vec<usize>, Value, FaultOutcome), Error> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    let skipped = |nodes: &[usize], why: String| {
        Ok((nodes.to_vec(), json!({ "nodes": names(nodes) }), FaultOutcome::Skipped(why)))
    };
    let (leader, view) = loop {
        match leader_view(cluster).await? {
            Some(lv) => break lv,
            None if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
            None => return skipped(&planned, "no leader known".into()),
        }
    };
    let leader = cluster.node_names().iter().position(|n| *n == leader);
    let wanted = match (cut, leader) {
        (Some(cut), Some(l)) => {
            let mut off = cut_off(&view.voters, l, cut);
            off.truncate(view.voters.len().saturating_sub(MIN_VOTERS).max(1));
            if off.is_empty() {
                planned
            } else {
                off
            }
        }
        _ => planned,
    };
    let (mut voters, mut asked, mut refused) = (view.voters.clone(), Vec::new(), Vec::new());
    for &node in &wanted {
        if let Err(why) = check_removal(&voters, node) {
            refused.push(why);
            continue;
        }
        let name = faultline_api::node_name(node);
        match change(cluster, MemberChange::Remove, &name, deadline).await? {
            ChangeAnswer::Accepted(_) | ChangeAnswer::Unknown(_) => {
                asked.push(node);
                voters.retain(|&v| v != node);
            }
            ChangeAnswer::Retry(why) | ChangeAnswer::Refused(why) => refused.push(why),
        }
    }
    if asked.is_empty() {
        return skipped(&wanted, refused.join("; "));
    }
    let mut value = json!({ "nodes": names(&asked) });
    if !refused.is_empty() {
        value["not_removed"] = json!(refused);
    }
    let gone = |v: &MemberView, n: &usize| !v.voters.contains(n) && !v.learners.contains(n);
    let mut last = None;
    let all = committed(cluster, &asked, |v| asked.iter().all(|n| gone(v, n)), &mut last).await?;
    let seen = all.or(last);
    let removed: Vec<usize> =
        asked.iter().copied().filter(|n| seen.as_ref().is_some_and(|v| gone(v, n))).collect();
    for &n in &removed {
        cluster.set_removed(&faultline_api::node_name(n), true)?;
    }
    if let Some(v) = &seen {
        value["voters"] = json!(names(&v.voters));
    }
    let kept: Vec<usize> = asked.iter().copied().filter(|n| !removed.contains(n)).collect();
    let outcome = if kept.is_empty() {
        FaultOutcome::Installed
    } else {
        let kept = names(&kept).join(", ");
        FaultOutcome::Indeterminate(format!("the removal of {kept} was not seen committed; kept"))
    };
    Ok((asked, value, outcome))
}

/// Brings `node` back as a voter from whatever state it is in (see the module doc),
/// reporting `add-member` on `events`. Returns the `promote-member` event's value and
/// outcome (`Skipped` when it was a voter already).
///
/// # Errors
/// Harness failures only.
pub async fn add_back(
    cluster: &Cluster,
    node: usize,
    events: &UnboundedSender<FaultEvent>,
) -> Result<(Value, FaultOutcome), Error> {
    let name = faultline_api::node_name(node);
    let mut value = json!({ "nodes": [name] });
    let view = match leader_view(cluster).await? {
        Some((_, v)) => v,
        None => return Ok((value, FaultOutcome::Skipped("no leader known".into()))),
    };
    if !cluster.is_removed(&name) {
        // The removal was indeterminate: find out what became of it.
        if view.voters.contains(&node) {
            return Ok((value, FaultOutcome::Skipped(format!("{name} is a voter"))));
        }
        if !view.learners.contains(&node) {
            cluster.set_removed(&name, true)?;
        }
    }
    if !view.learners.contains(&node) && !view.voters.contains(&node) {
        // A removed member kept running through the period: a newcomer from scratch.
        cluster.stop(&name).await?;
        cluster.wipe(&name)?;
        let deadline = Instant::now() + STEP_TIMEOUT;
        let (v, outcome) = match change(cluster, MemberChange::Add, &name, deadline).await? {
            ChangeAnswer::Accepted(v) => (Some(v), FaultOutcome::Installed),
            ChangeAnswer::Unknown(why) => (None, FaultOutcome::Indeterminate(why)),
            ChangeAnswer::Retry(why) | ChangeAnswer::Refused(why) => {
                (None, FaultOutcome::Skipped(why))
            }
        };
        let mut added = value.clone();
        // The leader's view says what the add made (etcd's answer does not).
        let v = match v {
            Some(v) => leader_view(cluster).await?.map(|(_, l)| l).or(Some(v)),
            None => None,
        };
        if let Some(v) = &v {
            added["voters"] = json!(names(&v.voters));
            added["learners"] = json!(names(&v.learners));
        }
        let f = EventName::AddMember.f();
        tracing::info!(f, node = name, outcome = outcome.as_str(), "nemesis");
        let skipped = matches!(outcome, FaultOutcome::Skipped(_));
        let _ = events.send(FaultEvent::new(EventName::AddMember, added, outcome.clone()));
        if skipped {
            return Ok((value, outcome));
        }
    }
    // Started once added: etcd's newcomer must be told the members, itself included.
    if cluster.is_removed(&name) && !cluster.is_running(&name) {
        if let FaultOutcome::Skipped(why) = cluster.start_joining(&name)? {
            return Ok((value, FaultOutcome::Skipped(why)));
        }
    }
    // A learner catching up (a snapshot to install) gets twice as long.
    let deadline = Instant::now() + STEP_TIMEOUT * 2;
    let outcome = match change(cluster, MemberChange::Promote, &name, deadline).await? {
        ChangeAnswer::Accepted(_) | ChangeAnswer::Unknown(_) => {
            let promoted = |v: &MemberView| v.voters.contains(&node);
            match committed(cluster, &[node], promoted, &mut None).await? {
                Some(v) => {
                    value["voters"] = json!(names(&v.voters));
                    cluster.set_removed(&name, false)?;
                    FaultOutcome::Installed
                }
                None => FaultOutcome::Indeterminate(format!(
                    "the promotion of {name} was not seen committed"
                )),
            }
        }
        ChangeAnswer::Refused(why) => match leader_view(cluster).await? {
            // A voter already (an earlier promotion that was not seen committed).
            Some((_, v)) if v.voters.contains(&node) => {
                cluster.set_removed(&name, false)?;
                FaultOutcome::Skipped(format!("{name} is a voter"))
            }
            _ => FaultOutcome::Skipped(why),
        },
        ChangeAnswer::Retry(why) => FaultOutcome::Skipped(why),
    };
    Ok((value, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_never_leave_fewer_than_the_minimum_of_voters() {
        assert_eq!(check_removal(&[0, 1, 2, 3, 4], 2), Ok(()));
        assert_eq!(check_removal(&[0, 1, 3, 4], 0), Ok(()));
        let e = check_removal(&[0, 1, 3], 1).unwrap_err();
        assert_eq!(e, "removing n2 would leave 2 voters (never fewer than 3)");
        assert_eq!(check_removal(&[0, 1, 3, 4], 2).unwrap_err(), "n3 is not a voter");
    }
}
