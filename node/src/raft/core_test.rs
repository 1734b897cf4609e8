//! Unit tests of the core: put a core in a known state, feed it one event,
//! assert the exact actions.

use crate::raft::action::Action;
use crate::raft::config::RaftConfig;
use crate::raft::core::{DurableState, RaftCore};
use crate::raft::message::{Body, Message};
use crate::raft::types::{Entry, EntryPayload, HardState, LogIndex, NodeId, Role, Term, UnsafeBug};
use pretty_assertions::assert_eq;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(super) fn entry(index: u64, term: u64) -> Entry {
    Entry {
        term: Term(term),
        index: LogIndex(index),
        payload: EntryPayload::Command(vec![index as u8]),
    }
}

fn noop(index: u64, term: u64) -> Entry {
    Entry { term: Term(term), index: LogIndex(index), payload: EntryPayload::Noop }
}

pub(super) fn config(n: u64, pre_vote: bool, bug: Option<UnsafeBug>) -> RaftConfig {
    let mut c = RaftConfig::new(NodeId(1), (1..=n).map(NodeId).collect());
    c.pre_vote = pre_vote;
    c.bug = bug;
    c
}

pub(super) fn core_with(cfg: RaftConfig, term: u64, entries: Vec<Entry>) -> RaftCore {
    let durable = DurableState {
        hard_state: HardState { term: Term(term), vote: None },
        snapshot: None,
        entries,
    };
    match RaftCore::new(cfg, durable, ChaCha8Rng::seed_from_u64(1)) {
        Ok(c) => c,
        Err(e) => panic!("bad test config: {e}"),
    }
}

pub(super) fn msg(from: u64, to: u64, term: u64, body: Body) -> Message {
    Message { from: NodeId(from), to: NodeId(to), term: Term(term), body }
}

fn send(from: u64, to: u64, term: u64, body: Body) -> Action {
    Action::Send(msg(from, to, term, body))
}

pub(super) fn time_out(core: &mut RaftCore) {
    for _ in 0..core.election_timeout {
        core.tick();
    }
}

/// Node 1 as the leader of term `term + 1` with its no-op committed on every follower.
pub(super) fn leader(n: u64, term: u64, bug: Option<UnsafeBug>) -> RaftCore {
    let mut core = core_with(config(n, false, bug), term, vec![]);
    time_out(&mut core);
    let t = term + 1;
    for peer in 2..=n {
        core.step(msg(peer, 1, t, Body::VoteResponse { granted: true }));
    }
    assert_eq!(core.role(), Role::Leader);
    for a in core.take_actions() {
        if let Action::PersistEntries { entries, .. } = a {
            let last = &entries[entries.len() - 1];
            core.on_persisted(last.index, last.term);
        }
    }
    let last = core.last_index();
    for peer in 2..=n {
        let body = Body::AppendResponse {
            success: true,
            prev_index: LogIndex(0),
            match_index: last,
            conflict_term: None,
            conflict_index: LogIndex(0),
        };
        core.step(msg(peer, 1, t, body));
    }
    core.take_actions();
    core
}

#[test]
fn election_timeout_starts_a_pre_vote_without_raising_the_term() {
    let mut core = core_with(config(3, true, None), 1, vec![entry(1, 1)]);
    time_out(&mut core);
    let pre_vote = Body::PreVote { last_log_index: LogIndex(1), last_log_term: Term(1) };
    assert_eq!(core.take_actions(), vec![send(1, 2, 2, pre_vote.clone()), send(1, 3, 2, pre_vote)]);
    assert_eq!((core.role(), core.term()), (Role::PreCandidate, Term(1)));
}

#[test]
fn a_pre_vote_majority_starts_the_real_election_after_persisting_the_vote() {
    let mut core = core_with(config(3, true, None), 1, vec![]);
    time_out(&mut core);
    core.take_actions();
    core.step(msg(2, 1, 2, Body::PreVoteResponse { granted: true }));
    let vote = Body::Vote { last_log_index: LogIndex(0), last_log_term: Term(0) };
    assert_eq!(
        core.take_actions(),
        vec![
            Action::PersistHardState(HardState { term: Term(2), vote: Some(NodeId(1)) }),
            send(1, 2, 2, vote.clone()),
            send(1, 3, 2, vote),
        ]
    );
    assert_eq!(core.role(), Role::Candidate);
}

#[test]
fn a_granted_vote_is_persisted_before_the_reply() {
    let mut core = core_with(config(3, true, None), 1, vec![entry(1, 1)]);
    core.step(msg(2, 1, 2, Body::Vote { last_log_index: LogIndex(1), last_log_term: Term(1) }));
    assert_eq!(
        core.take_actions(),
        vec![
            Action::PersistHardState(HardState { term: Term(2), vote: Some(NodeId(2)) }),
            send(1, 2, 2, Body::VoteResponse { granted: true }),
        ]
    );
}

#[test]
fn a_vote_for_a_stale_log_is_refused_but_the_term_is_adopted() {
    let mut core = core_with(config(3, true, None), 2, vec![entry(1, 2)]);
    core.step(msg(2, 1, 3, Body::Vote { last_log_index: LogIndex(5), last_log_term: Term(1) }));
    assert_eq!(
        core.take_actions(),
        vec![
            Action::PersistHardState(HardState { term: Term(3), vote: None }),
            send(1, 2, 3, Body::VoteResponse { granted: false }),
        ]
    );
}

#[test]
fn a_candidate_gives_up_as_soon_as_a_majority_refuses() {
    let mut core = core_with(config(5, false, None), 1, vec![]);
    time_out(&mut core);
    core.take_actions();
    core.step(msg(2, 1, 2, Body::VoteResponse { granted: false }));
    core.step(msg(3, 1, 2, Body::VoteResponse { granted: false }));
    assert_eq!(core.role(), Role::Candidate);
    core.step(msg(4, 1, 2, Body::VoteResponse { granted: false }));
    assert_eq!(core.role(), Role::Follower);
    assert_eq!(core.take_actions(), vec![]);
}

#[test]
fn a_new_leader_sends_its_noop_before_persisting_it() {
    let mut core = core_with(config(3, false, None), 1, vec![entry(1, 1)]);
    time_out(&mut core);
    core.take_actions();
    core.step(msg(2, 1, 2, Body::VoteResponse { granted: true }));
    let append = Body::Append {
        prev_index: LogIndex(1),
        prev_term: Term(1),
        entries: vec![noop(2, 2)],
        commit: LogIndex(0),
    };
    assert_eq!(
        core.take_actions(),
        vec![
            send(1, 2, 2, append.clone()),
            send(1, 3, 2, append),
            Action::PersistEntries { truncate_from: None, entries: vec![noop(2, 2)] },
        ]
    );
}

#[test]
fn a_follower_reports_the_conflicting_term_and_its_first_index() {
    let mut core = core_with(config(3, true, None), 3, vec![entry(1, 1), entry(2, 2), entry(3, 2)]);
    let append = Body::Append {
        prev_index: LogIndex(3),
        prev_term: Term(3),
        entries: vec![],
        commit: LogIndex(0),
    };
    core.step(msg(2, 1, 3, append));
    let reject = Body::AppendResponse {
        success: false,
        prev_index: LogIndex(3),
        match_index: LogIndex(0),
        conflict_term: Some(Term(2)),
        conflict_index: LogIndex(2),
    };
    assert_eq!(core.take_actions(), vec![send(1, 2, 3, reject)]);
}

#[test]
fn a_follower_truncates_persists_applies_then_answers() {
    let mut core = core_with(config(3, true, None), 1, vec![entry(1, 1), entry(2, 1)]);
    let append = Body::Append {
        prev_index: LogIndex(1),
        prev_term: Term(1),
        entries: vec![entry(2, 2)],
        commit: LogIndex(2),
    };
    core.step(msg(2, 1, 2, append));
    let ok = Body::AppendResponse {
        success: true,
        prev_index: LogIndex(1),
        match_index: LogIndex(2),
        conflict_term: None,
        conflict_index: LogIndex(0),
    };
    assert_eq!(
        core.take_actions(),
        vec![
            Action::PersistHardState(HardState { term: Term(2), vote: None }),
            Action::PersistEntries { truncate_from: Some(LogIndex(2)), entries: vec![entry(2, 2)] },
            Action::Apply(vec![entry(1, 1), entry(2, 2)]),
            send(1, 2, 2, ok),
        ]
    );
}

#[test]
fn a_message_from_an_old_term_is_answered_with_the_current_term() {
    let mut core = core_with(config(3, true, None), 5, vec![]);
    let append = Body::Append {
        prev_index: LogIndex(0),
        prev_term: Term(0),
        entries: vec![],
        commit: LogIndex(0),
    };
    core.step(msg(2, 1, 3, append));
    let reject = Body::AppendResponse {
        success: false,
        prev_index: LogIndex(0),
        match_index: LogIndex(0),
        conflict_term: None,
        conflict_index: LogIndex(0),
    };
    assert_eq!(core.take_actions(), vec![send(1, 2, 5, reject)]);
    assert_eq!(core.stats().dropped_stale, 1);
}

/// Figure 8: an entry of an earlier term on a majority is not committed by counting.
#[test]
fn old_term_entries_are_committed_only_through_the_current_term() {
    let mut core = core_with(config(3, false, None), 1, vec![entry(1, 1)]);
    time_out(&mut core);
    core.step(msg(2, 1, 2, Body::VoteResponse { granted: true }));
    core.take_actions();
    core.on_persisted(LogIndex(2), Term(2));
    let ack = |m: u64| Body::AppendResponse {
        success: true,
        prev_index: LogIndex(0),
        match_index: LogIndex(m),
        conflict_term: None,
        conflict_index: LogIndex(0),
    };
    core.step(msg(2, 1, 2, ack(1)));
    assert_eq!(core.commit_index(), LogIndex(0), "entry 1 (term 1) must not commit by counting");
    core.take_actions();
    core.step(msg(2, 1, 2, ack(2)));
    assert_eq!(core.commit_index(), LogIndex(2));
    let actions = core.take_actions();
    assert_eq!(actions[0], Action::Apply(vec![entry(1, 1), noop(2, 2)]));
}

#[test]
fn the_commit_old_term_bug_commits_by_counting() {
    let mut core =
        core_with(config(3, false, Some(UnsafeBug::CommitOldTerm)), 1, vec![entry(1, 1)]);
    time_out(&mut core);
    core.step(msg(2, 1, 2, Body::VoteResponse { granted: true }));
    core.take_actions();
    let ack = Body::AppendResponse {
        success: true,
        prev_index: LogIndex(0),
        match_index: LogIndex(1),
        conflict_term: None,
        conflict_index: LogIndex(0),
    };
    core.step(msg(2, 1, 2, ack));
    assert_eq!(core.commit_index(), LogIndex(1));
}

#[test]
fn a_read_is_ready_once_a_majority_answers_a_later_heartbeat_round() {
    let mut core = leader(3, 1, None);
    core.read_index(7).unwrap_or_else(|e| panic!("{e}"));
    let actions = core.take_actions();
    let round = match &actions[0] {
        Action::Send(Message { body: Body::Heartbeat { round, .. }, .. }) => *round,
        other => panic!("expected a heartbeat, got {other:?}"),
    };
    assert_eq!(actions.len(), 2, "one heartbeat per follower: {actions:?}");
    // An answer to an older round does not confirm the read.
    core.step(msg(2, 1, 2, Body::HeartbeatResponse { round: round - 1, last_index: LogIndex(1) }));
    assert_eq!(core.take_actions(), vec![]);
    core.step(msg(2, 1, 2, Body::HeartbeatResponse { round, last_index: LogIndex(1) }));
    assert_eq!(core.take_actions(), vec![Action::ReadReady { id: 7, index: LogIndex(1) }]);
}

#[test]
fn a_leader_that_steps_down_fails_its_reads() {
    let mut core = leader(3, 1, None);
    core.read_index(9).unwrap_or_else(|e| panic!("{e}"));
    core.take_actions();
    core.step(msg(3, 1, 7, Body::Heartbeat { commit: LogIndex(0), round: 1 }));
    let actions = core.take_actions();
    assert_eq!(actions[0], Action::ReadFailed { id: 9 });
    assert_eq!(
        (core.role(), core.term(), core.leader()),
        (Role::Follower, Term(7), Some(NodeId(3)))
    );
}

#[test]
fn proposals_are_batched_into_one_append_per_follower() {
    let mut core = leader(3, 1, None);
    for i in 0..3u8 {
        core.propose(vec![i]).unwrap_or_else(|e| panic!("{e}"));
    }
    let actions = core.take_actions();
    let appends: Vec<usize> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(Message { body: Body::Append { entries, .. }, .. }) => Some(entries.len()),
            _ => None,
        })
        .collect();
    assert_eq!(appends, vec![3, 3]);
    assert!(
        matches!(actions.last(), Some(Action::PersistEntries { entries, .. }) if entries.len() == 3)
    );
}

#[test]
fn a_follower_in_contact_with_its_leader_ignores_vote_requests() {
    let mut core = core_with(config(3, true, None), 2, vec![]);
    core.step(msg(2, 1, 2, Body::Heartbeat { commit: LogIndex(0), round: 1 }));
    core.take_actions();
    core.step(msg(3, 1, 3, Body::Vote { last_log_index: LogIndex(9), last_log_term: Term(2) }));
    assert_eq!(core.take_actions(), vec![]);
    assert_eq!(core.term(), Term(2));
}

#[test]
fn a_healthy_leader_refuses_pre_votes_and_ignores_votes() {
    let mut core = leader(3, 1, None);
    core.step(msg(2, 1, 3, Body::PreVote { last_log_index: LogIndex(9), last_log_term: Term(2) }));
    assert_eq!(core.take_actions(), vec![send(1, 2, 2, Body::PreVoteResponse { granted: false })]);
    core.step(msg(2, 1, 3, Body::Vote { last_log_index: LogIndex(9), last_log_term: Term(2) }));
    assert_eq!(core.take_actions(), vec![]);
    assert_eq!((core.role(), core.term()), (Role::Leader, Term(2)));
}

#[test]
fn a_follower_that_lost_acknowledged_entries_is_probed_again() {
    let mut core = leader(3, 1, None);
    // Node 2 acknowledged index 1 (the no-op), then restarted with an empty log.
    core.step(msg(2, 1, 2, Body::HeartbeatResponse { round: 1, last_index: LogIndex(0) }));
    let append = Body::Append {
        prev_index: LogIndex(0),
        prev_term: Term(0),
        entries: vec![noop(1, 2)],
        commit: LogIndex(1),
    };
    assert_eq!(core.take_actions(), vec![send(1, 2, 2, append)]);
}
