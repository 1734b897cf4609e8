//! Unit tests of single-server membership changes: the rules of one change at a time, the
//! committed-entry-of-its-term rule, configurations taking effect on append, quorums over
//! the configuration in force, learners, removal of the leader, snapshots.

use crate::raft::action::Action;
use crate::raft::core::{DurableState, RaftCore};
use crate::raft::core_test::{config, core_with, entry, leader, msg, time_out};
use crate::raft::error::ChangeError;
use crate::raft::membership::MemberChange;
use crate::raft::message::Body;
use crate::raft::types::{
    Entry, EntryPayload, HardState, LogIndex, Membership, NodeId, Role, Snapshot, SnapshotMeta,
    Term, UnsafeBug,
};
use pretty_assertions::assert_eq;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn ack(core: &mut RaftCore, from: u64, index: LogIndex) {
    let term = core.term().0;
    let body = Body::AppendResponse {
        success: true,
        prev_index: LogIndex(0),
        match_index: index,
        conflict_term: None,
        conflict_index: LogIndex(0),
    };
    core.step(msg(from, 1, term, body));
}

/// Persists what the leader wrote so that it counts itself.
fn persist(core: &mut RaftCore) -> Vec<Action> {
    let actions = core.take_actions();
    for a in &actions {
        if let Action::PersistEntries { entries, .. } = a {
            if let Some(last) = entries.last() {
                core.on_persisted(last.index, last.term);
            }
        }
    }
    actions
}

fn sent_to(actions: &[Action], to: u64) -> bool {
    actions.iter().any(|a| matches!(a, Action::Send(m) if m.to == NodeId(to)))
}

fn ids(v: &[u64]) -> std::collections::BTreeSet<NodeId> {
    v.iter().map(|i| NodeId(*i)).collect()
}

#[test]
fn a_new_leader_refuses_a_change_until_it_committed_an_entry_of_its_term() {
    let mut core = core_with(config(3, false, None), 1, vec![]);
    time_out(&mut core);
    core.step(msg(2, 1, 2, Body::VoteResponse { granted: true }));
    assert_eq!(core.role(), Role::Leader);
    let refused = core.propose_change(MemberChange::AddLearner(NodeId(4)));
    assert!(matches!(refused, Err(ChangeError::Busy { .. })), "{refused:?}");
    persist(&mut core);
    let last = core.last_index();
    ack(&mut core, 2, last);
    assert!(core.committed_in_term());
    assert_eq!(core.propose_change(MemberChange::AddLearner(NodeId(4))), Ok(LogIndex(2)));
}

#[test]
fn one_change_at_a_time_and_the_bug_skips_the_rule() {
    let mut core = leader(3, 1, None);
    let first = core.propose_change(MemberChange::Remove(NodeId(3)));
    assert_eq!(first, Ok(LogIndex(2)));
    let second = core.propose_change(MemberChange::AddLearner(NodeId(4)));
    assert!(matches!(second, Err(ChangeError::Busy { .. })), "{second:?}");
    // Committed by the new configuration {1, 2}: now the next change may start.
    persist(&mut core);
    ack(&mut core, 2, LogIndex(2));
    assert!(core.membership_committed());
    assert_eq!(core.propose_change(MemberChange::AddLearner(NodeId(4))), Ok(LogIndex(3)));

    let mut buggy = leader(3, 1, Some(UnsafeBug::MembershipOverlap));
    assert!(buggy.propose_change(MemberChange::Remove(NodeId(3))).is_ok());
    assert!(buggy.propose_change(MemberChange::Remove(NodeId(2))).is_ok());
    assert_eq!(buggy.membership(), &Membership::with_voters([NodeId(1)]));
}

#[test]
fn invalid_changes_are_refused() {
    let mut core = leader(3, 1, None);
    let cases = [
        MemberChange::AddLearner(NodeId(2)),
        MemberChange::Promote(NodeId(2)),
        MemberChange::Remove(NodeId(9)),
    ];
    for change in cases {
        let r = core.propose_change(change);
        assert!(matches!(r, Err(ChangeError::Invalid { .. })), "{change:?}: {r:?}");
    }
    let mut solo = leader(1, 1, None);
    let r = solo.propose_change(MemberChange::Remove(NodeId(1)));
    assert!(matches!(r, Err(ChangeError::Invalid { .. })), "{r:?}");
}

#[test]
fn a_learner_gets_the_log_but_does_not_count_until_promoted_once_caught_up() {
    let mut core = leader(3, 1, None);
    let add = core.propose_change(MemberChange::AddLearner(NodeId(4))).unwrap();
    let actions = persist(&mut core);
    assert!(sent_to(&actions, 4), "the learner gets appends at once: {actions:?}");
    assert_eq!(core.membership().learners, ids(&[4]));
    // A learner's acknowledgement alone does not commit (quorum of voters: 2 of 3).
    ack(&mut core, 4, add);
    assert_eq!(core.commit_index(), LogIndex(1));
    ack(&mut core, 2, add);
    assert_eq!(core.commit_index(), add);
    // Not caught up yet: the learner's acknowledgement above counted, so write one more
    // entry that it has not acknowledged.
    core.propose(vec![7]).unwrap();
    persist(&mut core);
    ack(&mut core, 2, LogIndex(3));
    let r = core.propose_change(MemberChange::Promote(NodeId(4)));
    assert!(matches!(r, Err(ChangeError::NotCaughtUp { .. })), "{r:?}");
    ack(&mut core, 4, LogIndex(3));
    let promote = core.propose_change(MemberChange::Promote(NodeId(4))).unwrap();
    assert_eq!(core.membership().voters, ids(&[1, 2, 3, 4]));
    persist(&mut core);
    // Four voters: a quorum is 3, so the leader and node 2 are not enough any more.
    ack(&mut core, 2, promote);
    assert!(core.commit_index() < promote);
    ack(&mut core, 4, promote);
    assert_eq!(core.commit_index(), promote);
}

#[test]
fn a_removed_leader_keeps_leading_until_the_change_commits_then_steps_down() {
    let mut core = leader(3, 1, None);
    let remove = core.propose_change(MemberChange::Remove(NodeId(1))).unwrap();
    persist(&mut core);
    assert_eq!(core.role(), Role::Leader);
    // The leader no longer counts itself: the new voters {2, 3} must both hold it.
    ack(&mut core, 2, remove);
    assert_eq!(core.role(), Role::Leader);
    assert!(core.commit_index() < remove);
    ack(&mut core, 3, remove);
    assert_eq!(core.commit_index(), remove);
    assert_eq!(core.role(), Role::Follower);
    // A removed node never campaigns.
    for _ in 0..200 {
        core.tick();
    }
    assert_eq!(core.role(), Role::Follower);
}

#[test]
fn a_follower_adopts_a_config_on_append_and_drops_it_when_truncated() {
    let mut core = core_with(config(3, false, None), 1, vec![entry(1, 1)]);
    let cfg = Membership::with_voters([NodeId(1), NodeId(2)]);
    let e = Entry { term: Term(1), index: LogIndex(2), payload: EntryPayload::Config(cfg.clone()) };
    let append = Body::Append {
        prev_index: LogIndex(1),
        prev_term: Term(1),
        entries: vec![e],
        commit: LogIndex(1),
    };
    core.step(msg(2, 1, 1, append));
    assert_eq!(core.membership(), &cfg, "in force when appended, not yet committed");
    assert_eq!(core.membership_index(), LogIndex(2));
    let overwrite = Body::Append {
        prev_index: LogIndex(1),
        prev_term: Term(1),
        entries: vec![entry(2, 2)],
        commit: LogIndex(1),
    };
    core.step(msg(3, 1, 2, overwrite));
    assert_eq!(core.membership(), &Membership::with_voters([NodeId(1), NodeId(2), NodeId(3)]));
}

#[test]
fn non_voters_neither_campaign_nor_grant_votes_and_their_requests_are_ignored() {
    // A node that joins with an empty configuration: it is nobody's voter yet.
    let mut cfg = config(3, false, None);
    cfg.voters.clear();
    let mut joining = core_with(cfg, 0, vec![]);
    for _ in 0..200 {
        joining.tick();
    }
    assert_eq!(joining.role(), Role::Follower);
    assert!(joining.take_actions().is_empty());
    joining.step(msg(2, 1, 5, Body::Vote { last_log_index: LogIndex(9), last_log_term: Term(4) }));
    assert_eq!((joining.term(), joining.vote()), (Term(0), None));
    // Once it has the configuration that makes it a learner, it still grants nothing.
    let learner = Membership { voters: ids(&[2, 3]), learners: ids(&[1]) };
    let e = Entry { term: Term(5), index: LogIndex(1), payload: EntryPayload::Config(learner) };
    let append = Body::Append {
        prev_index: LogIndex(0),
        prev_term: Term(0),
        entries: vec![e],
        commit: LogIndex(1),
    };
    joining.step(msg(2, 1, 5, append));
    assert_eq!(joining.membership().learners, ids(&[1]));
    for _ in 0..100 {
        joining.tick();
    }
    joining.take_actions();
    joining.step(msg(3, 1, 6, Body::Vote { last_log_index: LogIndex(9), last_log_term: Term(5) }));
    let answer = joining.take_actions();
    assert!(
        answer.iter().any(
            |a| matches!(a, Action::Send(m) if m.body == Body::VoteResponse { granted: false })
        ),
        "{answer:?}"
    );
    // A voter ignores a campaign from a node outside its configuration (no term raise).
    let mut voter = core_with(config(3, false, None), 1, vec![]);
    voter.step(msg(7, 1, 9, Body::Vote { last_log_index: LogIndex(9), last_log_term: Term(8) }));
    assert_eq!(voter.term(), Term(1));
    assert!(voter.take_actions().is_empty());
}

#[test]
fn the_snapshot_carries_the_configuration_at_its_index() {
    let mut core = leader(3, 1, None);
    let remove = core.propose_change(MemberChange::Remove(NodeId(3))).unwrap();
    persist(&mut core);
    ack(&mut core, 2, remove);
    let add = core.propose_change(MemberChange::AddLearner(NodeId(5))).unwrap();
    persist(&mut core);
    ack(&mut core, 2, add);
    assert_eq!(core.commit_index(), add);
    core.compact(remove, vec![1, 2, 3]).unwrap();
    let snap = core
        .take_actions()
        .into_iter()
        .find_map(|a| match a {
            Action::PersistSnapshot { snapshot, .. } => Some(snapshot),
            _ => None,
        })
        .unwrap();
    assert_eq!(snap.meta.membership, Membership::with_voters([NodeId(1), NodeId(2)]));
    // A node recovering from that snapshot (and no log) starts in its configuration, not
    // in its bootstrap one.
    let durable = DurableState {
        hard_state: HardState { term: Term(2), vote: None },
        snapshot: Some(Snapshot {
            meta: SnapshotMeta {
                last_index: remove,
                last_term: Term(2),
                membership: snap.meta.membership.clone(),
            },
            data: vec![],
        }),
        entries: vec![],
    };
    let mut cfg = config(3, false, None);
    cfg.id = NodeId(2);
    let recovered = RaftCore::new(cfg, durable, ChaCha8Rng::seed_from_u64(2)).unwrap();
    assert_eq!(recovered.membership(), &snap.meta.membership);
}
