//! The Raft paper's Figure 8 (§5.4.2) as a fault: a sequence of partitions that follows the
//! leaders, so that two nodes hold unreplicated entries of different terms at the same log
//! indexes, the older one is replicated to a majority, and the newer one can still win.
//!
//! ```text
//!  step  grudge (groups)            what it is for
//!  1     {A} | rest                 A (leader, term a) keeps taking writes it cannot replicate
//!  2     {A} | {B} | {C} | ..       the rest elected B (term b > a): cut everyone off at once,
//!                                   so B, too, takes writes it cannot replicate (one of the
//!                                   nemesis's own at least: clients may all wait on A)
//!  3     {A C ..} | {B} | ..        A and a bare majority without B: only A can win there (its
//!                                   log is the longest); it replicates its term-a entries
//!  4     {B C ..} | {A} | ..        as soon as A's commit index covers them: B and the same
//!                                   majority without A; B's last term b beats their term a
//! ```
//!
//! A correct leader appends an entry of its own term when elected (Raft §5.4.2, §8). In step 3
//! that entry reaches the majority together with A's old ones, B cannot win step 4, and
//! nothing is lost: the group just waits for the heal. A leader that commits entries of
//! earlier terms by counting replicas tells its clients they are committed in step 3, and B
//! overwrites them in step 4.
//!
//! Each step waits for what it needs (a new leader, the commit index) by polling the nodes'
//! status every few milliseconds, and the sequence stops where a wait times out, keeping the
//! partition it has until the fault period ends. Clients find a new leader faster than a poll
//! can, so during the sequence the local backend's proxies hold every byte for
//! 30 ms (`LINK_DELAY`): a cut made right after a poll also drops what the new leader sent since
//! (the netns backend skips the delay and races the clients). Every grudge change is a
//! `stop-partition`/`start-partition` pair of events with `"shape":"figure8"` and the step.
//! With several Raft groups (the sharded KV: the controller and each replica group) each
//! sequence plays within one group, the groups taking turns; the other groups' nodes stay
//! with the step's largest group (they share no Raft traffic with this one).
//! Which node wins an election is the cluster's choice, and a client write that reaches a
//! new leader before the next cut changes the outcome: the sequence is an attempt, and a run
//! makes many of them.
#![allow(clippy::disallowed_methods)] // real waiting and polling: this is an I/O driver

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::partition::Grudge;
use crate::system::Probe;
use crate::{Cluster, Error, EventName, FaultEvent, FaultOutcome};

/// How often the nodes are polled while a step waits.
const POLL: Duration = Duration::from_millis(2);
/// How long a step waits for an election.
const ELECTION_WAIT: Duration = Duration::from_secs(4);
/// Latency added to every link during the sequence (local backend): longer than a poll.
const LINK_DELAY: Duration = Duration::from_millis(30);
/// How long step 2 holds at most for the new leader to take writes.
const WRITES_WAIT: Duration = Duration::from_millis(600);

/// Runs the sequence; returns `Skipped` when no leader is known to start from, `Installed`
/// otherwise (whatever step it reached). The last grudge stays installed: the caller heals.
///
/// # Errors
/// Harness failures only (iptables).
pub(crate) async fn run(
    cluster: &Cluster,
    events: &UnboundedSender<FaultEvent>,
) -> Result<FaultOutcome, Error> {
    // The Raft group this sequence plays in; below, nodes are indices into `members`.
    let groups = cluster.raft_groups();
    let turn = TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % groups.len().max(1);
    let members: Vec<usize> = groups.get(turn).cloned().unwrap_or_default();
    let n = members.len();
    let step = Steps { cluster, events, members: &members, total: cluster.node_names().len() };
    let name = |i: usize| step.name(i);
    let statuses = local(&cluster.statuses().await, &members);
    let Some((a, a_term)) = leader(&statuses, |_, _| true) else {
        return Ok(FaultOutcome::Skipped("no leader known".into()));
    };
    // Every byte spends LINK_DELAY in the proxies, so a cut made as soon as a poll sees a
    // new leader (or a commit) also drops what that leader sent in the meantime.
    let delayed = match cluster.set_delay(LINK_DELAY)? {
        FaultOutcome::Installed => format!("links delayed {} ms", LINK_DELAY.as_millis()),
        other => format!("links not delayed: {}", other.reason().unwrap_or("skipped")),
    };
    step.install(
        1,
        vec![vec![a], others(n, &[a])],
        format!("isolate the leader {} ({delayed})", name(a)),
    )?;

    let Some((b, b_term)) =
        wait(cluster, &members, ELECTION_WAIT, &|s| leader(s, |i, st| i != a && st.term > a_term))
            .await
    else {
        return step.stop(1, "no new leader");
    };
    let singles: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    step.install(2, singles, format!("{} leads term {b_term}: isolate every node", name(b)))?;
    // Hold until the new leader has an entry it could not replicate (or for a while, for a
    // system that does not report its log), then a little longer for more of them.
    let has_tail = |s: &[Option<Probe>]| {
        let st = s[b].as_ref()?;
        (st.last_index? > st.commit_index?).then_some(())
    };
    // B gets an entry of its term from the nemesis itself, whether or not a client finds it
    // in time (clients still waiting on A's answers do not).
    let with_indexes = statuses.iter().flatten().any(|s| s.last_index.is_some());
    let (own, ()) = tokio::join!(cluster.append_own_entry(members[b]), async {
        if with_indexes {
            wait(cluster, &members, WRITES_WAIT, &has_tail).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        } else {
            tokio::time::sleep(WRITES_WAIT).await;
        }
    });
    if let Some(why) = own.reason() {
        tracing::info!(why, "figure8: no write of the nemesis's own");
    }

    // A bare majority: A and the first ⌊n/2⌋ nodes that are neither A nor B.
    let mates: Vec<usize> = others(n, &[a, b]).into_iter().take(n / 2).collect();
    step.install(
        3,
        majority(n, a, &mates),
        format!("{} with a majority that lacks {}'s writes", name(a), name(b)),
    )?;
    let Some((leader3, term3)) =
        wait(cluster, &members, ELECTION_WAIT, &|s| leader(s, |_, st| st.term > b_term)).await
    else {
        return step.stop(3, "no leader in the majority");
    };
    if leader3 != a {
        return step.stop(3, &format!("{} won instead of {}", name(leader3), name(a)));
    }
    if with_indexes {
        // A's log as it was elected: everything up to there is what it must commit.
        let st = local(&cluster.statuses().await, &members);
        let Some(tail) = st[a].as_ref().and_then(|s| s.last_index) else {
            return step.stop(3, "the leader stopped answering");
        };
        let covered = |s: &[Option<Probe>]| {
            let st = s[a].as_ref()?;
            (st.term == term3 && st.commit_index? >= tail).then_some(())
        };
        if wait(cluster, &members, Duration::from_secs(1), &covered).await.is_none() {
            return step.stop(3, "the leader did not commit its log");
        }
    } else {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    step.install(
        4,
        majority(n, b, &mates),
        format!("{} committed up to its log: isolate it", name(a)),
    )?;
    match wait(cluster, &members, ELECTION_WAIT, &|s| leader(s, |_, st| st.term > term3)).await {
        Some((l, t)) => tracing::info!(leader = %name(l), term = t, "figure8: step 4 elected"),
        None => {
            tracing::info!("figure8: step 4 elected nobody (a safe leader's entry of its term)")
        }
    }
    Ok(FaultOutcome::Installed)
}

/// Which Raft group the next sequence plays in (they take turns).
static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Installs the steps' grudges and reports them.
struct Steps<'a> {
    cluster: &'a Cluster,
    events: &'a UnboundedSender<FaultEvent>,
    /// The group's nodes (cluster indices); a step's groups index into this.
    members: &'a [usize],
    /// Nodes in the cluster.
    total: usize,
}

impl Steps<'_> {
    /// The name of the group's `i`th node.
    fn name(&self, i: usize) -> String {
        name(self.members[i])
    }

    fn install(&self, step: u32, groups: Vec<Vec<usize>>, note: String) -> Result<(), Error> {
        // To cluster indices; the nodes of other groups join the largest group (the rest,
        // or the majority; the first of the singles).
        let mut groups: Vec<Vec<usize>> =
            groups.iter().map(|g| g.iter().map(|&i| self.members[i]).collect()).collect();
        let outside = (0..self.total).filter(|i| !self.members.contains(i));
        let largest = groups.iter().enumerate().rev().max_by_key(|(_, g)| g.len()).map(|(k, _)| k);
        if let Some(g) = largest.and_then(|k| groups.get_mut(k)) {
            g.extend(outside);
        }
        let grudge = Grudge::groups(self.total, &groups);
        let outcome = self.cluster.set_cut(&grudge)?;
        if step > 1 {
            let _ = self
                .events
                .send(FaultEvent::installed(EventName::StopFigure8, json!({ "shape": "figure8" })));
        }
        tracing::info!(step, %note, "figure8");

        let mut value = grudge.to_json();
        value["shape"] = json!("figure8");
        value["step"] = json!(step);
        value["note"] = json!(note);
        let _ = self.events.send(FaultEvent::new(EventName::StartFigure8, value, outcome));
        Ok(())
    }

    fn stop(&self, step: u32, why: &str) -> Result<FaultOutcome, Error> {
        tracing::info!(step, why, "figure8: sequence stopped, partition held");
        Ok(FaultOutcome::Installed)
    }
}

/// The leader with the highest term among nodes that pass `filter(index, status)`.
fn leader(
    statuses: &[Option<Probe>],
    filter: impl Fn(usize, &Probe) -> bool,
) -> Option<(usize, u64)> {
    statuses
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(|s| s.is_leader && filter(i, s)).map(|s| (s.term, i)))
        .max()
        .map(|(t, i)| (i, t))
}

/// The statuses of `members` (cluster indices), in their order.
fn local(statuses: &[Option<Probe>], members: &[usize]) -> Vec<Option<Probe>> {
    members.iter().map(|&i| statuses.get(i).copied().flatten()).collect()
}

/// Polls the group `members` until `f` answers, or `timeout` passes.
async fn wait<T>(
    cluster: &Cluster,
    members: &[usize],
    timeout: Duration,
    f: &dyn Fn(&[Option<Probe>]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f(&local(&cluster.statuses().await, members)) {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Groups: `head` with `mates`, every other node alone.
fn majority(n: usize, head: usize, mates: &[usize]) -> Vec<Vec<usize>> {
    let mut group = vec![head];
    group.extend(mates);
    let mut groups: Vec<Vec<usize>> = others(n, &group).into_iter().map(|i| vec![i]).collect();
    groups.insert(0, group);
    groups
}

/// The nodes `0..n` not in `not`, in order.
fn others(n: usize, not: &[usize]) -> Vec<usize> {
    (0..n).filter(|i| !not.contains(i)).collect()
}

fn name(i: usize) -> String {
    faultline_api::node_name(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(is_leader: bool, term: u64) -> Option<Probe> {
        Some(Probe { is_leader, term, commit_index: None, last_index: None })
    }

    #[test]
    fn leader_picks_the_highest_term_that_passes() {
        let s = [st(true, 3), None, st(true, 5), st(false, 9)];
        assert_eq!(leader(&s, |_, _| true), Some((2, 5)));
        assert_eq!(leader(&s, |i, _| i != 2), Some((0, 3)));
        assert_eq!(leader(&s, |_, st| st.term > 5), None);
    }

    #[test]
    fn others_keeps_order() {
        assert_eq!(others(5, &[3, 0]), vec![1, 2, 4]);
    }

    #[test]
    fn majority_groups_the_head_with_its_mates_and_leaves_the_rest_alone() {
        assert_eq!(majority(5, 3, &[0, 4]), vec![vec![3, 0, 4], vec![1], vec![2]]);
        assert_eq!(majority(3, 1, &[2]), vec![vec![1, 2], vec![0]]);
    }
}
