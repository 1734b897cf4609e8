//! The `membership` fault: remove a member through the leader, wipe it, and add it back as a
//! newcomer. Each step is a nemesis event naming the node and the configuration it made.
//!
//! ```text
//! remove(n):   leader's view ─▶ check_removal (never below MIN_VOTERS voters)
//!              ─▶ POST remove to the leader (retry: not-leader, busy) ─▶ wait until some
//!              other member sees it committed ─▶ stop n, wipe its data dir, mark it removed
//!              ─▶ event remove-member {nodes:[n], voters}
//! add_back(n): POST add (learner) ─▶ event add-member {nodes:[n], voters, learners}
//!              ─▶ start n empty as a newcomer (faultline: --join; etcd: the members and
//!              --initial-cluster-state existing) ─▶ POST promote (retry: busy, not caught
//!              up) ─▶ wait until committed ─▶ n is a voter again
//!              ─▶ event promote-member {nodes:[n], voters}
//! ```
//!
//! A removal not seen committed within [`STEP_TIMEOUT`] is `Indeterminate` and the node is
//! neither stopped nor wiped (wiping a node that may still vote would be amnesia, a fault of
//! the harness, not a bug of the system). `add_back` goes from whatever state it finds: a
//! voter is left alone, a learner is only promoted (started first when down), a removed member
//! is added, then started.
//! Each request is sent as soon as the previous one was accepted, retried while the leader
//! says "busy": a leader that accepts a change before the previous one committed
//! (`--unsafe-bug membership-overlap`) gets the chance to.
#![allow(clippy::disallowed_methods)] // the nemesis waits in real time: it is an I/O driver

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::fault::names;
use crate::system::{ChangeAnswer, MemberChange, MemberView};
use crate::{Cluster, Error, FaultOutcome, NemesisEvent};

/// The fewest voters a removal leaves ([`faultline_api::fault::MEMBERSHIP_MIN_VOTERS`]).
pub const MIN_VOTERS: usize = faultline_api::fault::MEMBERSHIP_MIN_VOTERS;

/// Time one step (a change accepted, then seen committed) may take, retries included; a
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
/// [`STEP_TIMEOUT`]` * factor` passes.
async fn change(
    cluster: &Cluster,
    change: MemberChange,
    node: &str,
    factor: u32,
) -> Result<ChangeAnswer, Error> {
    let deadline = Instant::now() + STEP_TIMEOUT * factor;
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
/// `done` accepts; returns that view.
async fn committed(
    cluster: &Cluster,
    except: &str,
    done: impl Fn(&MemberView) -> bool,
) -> Result<Option<MemberView>, Error> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while Instant::now() < deadline {
        for n in cluster.node_names().iter().filter(|n| *n != except) {
            if let Some(v) = cluster.members(n).await? {
                if v.committed && done(&v) {
                    return Ok(Some(v));
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
    Ok(None)
}

/// Removes `node` (0-based) through the leader, then stops and wipes it once the removal
/// committed. Returns the `remove-member` event's value and outcome.
///
/// # Errors
/// Harness failures only (a process could not be signalled, the data dir not removed).
pub async fn remove(cluster: &Cluster, node: usize) -> Result<(Value, FaultOutcome), Error> {
    let name = faultline_api::node_name(node);
    let mut value = json!({ "nodes": [name] });
    let deadline = Instant::now() + STEP_TIMEOUT;
    let view = loop {
        match leader_view(cluster).await? {
            Some((_, v)) => break v,
            None if Instant::now() < deadline => tokio::time::sleep(RETRY).await,
            None => return Ok((value, FaultOutcome::Skipped("no leader known".into()))),
        }
    };
    if let Err(why) = check_removal(&view.voters, node) {
        return Ok((value, FaultOutcome::Skipped(why)));
    }
    match change(cluster, MemberChange::Remove, &name, 1).await? {
        ChangeAnswer::Accepted(_) | ChangeAnswer::Unknown(_) => {}
        ChangeAnswer::Retry(why) | ChangeAnswer::Refused(why) => {
            return Ok((value, FaultOutcome::Skipped(why)));
        }
    }
    let Some(v) = committed(cluster, &name, |v| !v.voters.contains(&node)).await? else {
        let why = format!("the removal of {name} was not seen committed; {name} kept");
        return Ok((value, FaultOutcome::Indeterminate(why)));
    };
    value["voters"] = json!(names(&v.voters));
    cluster.set_removed(&name, true)?;
    cluster.stop(&name).await?;
    cluster.wipe(&name)?;
    Ok((value, FaultOutcome::Installed))
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
    events: &UnboundedSender<NemesisEvent>,
) -> Result<(Value, FaultOutcome), Error> {
    let name = faultline_api::node_name(node);
    let mut value = json!({ "nodes": [name] });
    if !cluster.is_removed(&name) {
        // The removal was indeterminate: find out what became of it.
        let view = match leader_view(cluster).await? {
            Some((_, v)) => v,
            None => return Ok((value, FaultOutcome::Skipped("no leader known".into()))),
        };
        if view.voters.contains(&node) {
            return Ok((value, FaultOutcome::Skipped(format!("{name} is a voter"))));
        }
        if !view.learners.contains(&node) {
            // Removed after all, but never stopped: a newcomer from scratch.
            cluster.set_removed(&name, true)?;
            cluster.stop(&name).await?;
            cluster.wipe(&name)?;
        }
    }
    let learner = match leader_view(cluster).await? {
        Some((_, v)) => v.learners.contains(&node) || v.voters.contains(&node),
        None => false,
    };
    if !learner {
        let (v, outcome) = match change(cluster, MemberChange::Add, &name, 1).await? {
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
        tracing::info!(f = "add-member", node = name, outcome = outcome.as_str(), "nemesis");
        let skipped = matches!(outcome, FaultOutcome::Skipped(_));
        let _ = events.send(NemesisEvent::new("add-member", added, outcome.clone()));
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
    let outcome = match change(cluster, MemberChange::Promote, &name, 2).await? {
        ChangeAnswer::Accepted(_) | ChangeAnswer::Unknown(_) => {
            match committed(cluster, &name, |v| v.voters.contains(&node)).await? {
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
