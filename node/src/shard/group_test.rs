//! Unit tests of the replica group state machine: a shard's life through a move, what is
//! served when, de-duplication across a move, and the planted bugs.

use super::*;
use crate::api::Op;
use pretty_assertions::assert_eq;

const N: usize = 4;

fn group(gid: u64, bug: Option<UnsafeBug>) -> Group {
    Group::new(&GroupOptions { gid: Gid(gid), shards: N }, bug)
}

fn config(num: u64, owners: [u64; N]) -> ShardConfig {
    let shards = owners.iter().map(|g| Gid(*g)).collect();
    let groups = owners.iter().filter(|g| **g != 0).map(|g| (Gid(*g), vec![])).collect();
    ShardConfig { num, shards, groups }
}

/// A key of shard `s`.
fn key(s: usize) -> String {
    (0..).map(|i| format!("k{i}")).find(|k| key_shard(k, N) == s).unwrap()
}

fn op(client: u64, seq: u64, s: usize, op: Op) -> GroupCommand {
    GroupCommand::Client(Command { client: ClientId(client), seq, key: key(s), op })
}

fn append(client: u64, seq: u64, s: usize, v: &str) -> GroupCommand {
    op(client, seq, s, Op::Append(v.into()))
}

fn get(g: &mut Group, s: usize) -> GroupResponse {
    g.apply(&op(99, u64::MAX, s, Op::Get))
}

fn value(v: &str) -> GroupResponse {
    GroupResponse::Kv(Response::Ok { value: Some(v.into()) })
}

/// `Ok` with no value (a write, or a read of an absent key).
fn ok() -> GroupResponse {
    GroupResponse::Kv(Response::Ok { value: None })
}

fn pulled(g: &Group, num: u64, shards: &[usize]) -> BTreeMap<usize, Kv> {
    match g.read(&GroupCommand::Pull { num, shards: shards.to_vec() }) {
        GroupResponse::Shards(d) => d,
        other => panic!("pull answered {other:?}"),
    }
}

/// Groups 1 and 2; config 1 gives everything to 1, config 2 moves shards 2 and 3 to 2.
fn moved(bug: Option<UnsafeBug>) -> (Group, Group) {
    let (mut a, mut b) = (group(1, bug), group(2, bug));
    for g in [&mut a, &mut b] {
        assert_eq!(g.apply(&GroupCommand::Config(config(1, [1, 1, 1, 1]))), GroupResponse::Done);
    }
    assert_eq!(a.apply(&append(7, 1, 3, "x")), ok());
    for g in [&mut a, &mut b] {
        assert_eq!(g.apply(&GroupCommand::Config(config(2, [1, 1, 2, 2]))), GroupResponse::Done);
    }
    (a, b)
}

#[test]
fn a_shard_moves_with_its_sessions_and_is_deleted_after_confirmation() {
    let (mut a, mut b) = moved(None);
    assert_eq!(a.shards_in(ShardState::BePulling), vec![2, 3]);
    assert_eq!(b.shards_in(ShardState::Pulling), vec![2, 3]);
    assert_eq!(a.apply(&append(7, 2, 3, "y")), GroupResponse::WrongGroup, "moved away");
    assert_eq!(b.apply(&append(7, 2, 3, "y")), GroupResponse::NotArrived);
    assert_eq!(get(&mut a, 0), ok(), "an unaffected shard keeps serving");
    assert_eq!(a.read(&GroupCommand::Pull { num: 3, shards: vec![3] }), GroupResponse::NotReady);
    let data = pulled(&a, 2, &[2, 3]);
    let install = GroupCommand::Install { num: 2, shards: data };
    assert_eq!(b.apply(&install), GroupResponse::Done);
    assert_eq!(b.shards_in(ShardState::GcPending), vec![2, 3]);
    assert_eq!(b.apply(&append(7, 1, 3, "x")), ok(), "a retry across the move is cached");
    assert_eq!(get(&mut b, 3), value("x"), "served at once, applied once");
    assert_eq!(b.apply(&install), GroupResponse::Done);
    assert_eq!(get(&mut b, 3), value("x"), "a duplicate install changes nothing");
    assert!(!a.is_settled() && !b.is_settled());
    assert_eq!(a.apply(&GroupCommand::Config(config(3, [1, 1, 1, 1]))), GroupResponse::Ignored);
    let delete = GroupCommand::Delete { num: 2, shards: vec![2, 3] };
    assert_eq!(a.apply(&delete), GroupResponse::Done);
    assert_eq!(a.shards().keys().copied().collect::<Vec<_>>(), vec![0, 1], "bounded memory");
    assert_eq!(a.apply(&delete), GroupResponse::Done, "idempotent");
    assert_eq!(b.apply(&GroupCommand::Settled { num: 2, shards: vec![2, 3] }), GroupResponse::Done);
    assert!(a.is_settled() && b.is_settled());
    assert_eq!(a.apply(&GroupCommand::Delete { num: 5, shards: vec![0] }), GroupResponse::NotReady);
    // Snapshots carry shards, states and sessions.
    let mut restored = group(2, None);
    StateMachine::restore(&mut restored, &StateMachine::snapshot(&b)).unwrap();
    assert_eq!(restored, b);
    assert_eq!(restored.apply(&append(7, 1, 3, "x")), ok());
    assert_eq!(get(&mut restored, 3), value("x"));
}

#[test]
fn configs_apply_in_order_only() {
    let mut a = group(1, None);
    assert_eq!(a.apply(&GroupCommand::Config(config(2, [1, 1, 1, 1]))), GroupResponse::Ignored);
    assert_eq!(a.apply(&GroupCommand::Config(config(1, [1, 1, 1, 1]))), GroupResponse::Done);
    assert_eq!(a.apply(&GroupCommand::Config(config(1, [1, 1, 1, 1]))), GroupResponse::Ignored);
    assert_eq!(a.current().num, 1);
    assert_eq!(a.shards_in(ShardState::Serving), vec![0, 1, 2, 3], "from nobody: no pull");
    let mut skip = group(1, Some(UnsafeBug::ConfigSkip));
    assert_eq!(skip.apply(&GroupCommand::Config(config(3, [1, 1, 1, 1]))), GroupResponse::Done);
}

#[test]
fn planted_bugs_change_what_is_served() {
    let (mut a, mut b) = moved(Some(UnsafeBug::ShardServeLate));
    assert_eq!(a.apply(&append(7, 2, 3, "y")), ok(), "serve-late: still served after the move");
    assert_eq!(b.apply(&append(8, 1, 3, "z")), GroupResponse::NotArrived);
    let (_, mut b) = moved(Some(UnsafeBug::ShardServeEarly));
    assert_eq!(get(&mut b, 3), ok(), "serve-early: served before the data arrived");
    let (a, _) = moved(Some(UnsafeBug::ShardNoDedupTransfer));
    let mut b = group(2, None);
    b.apply(&GroupCommand::Config(config(1, [1, 1, 1, 1])));
    b.apply(&GroupCommand::Config(config(2, [1, 1, 2, 2])));
    b.apply(&GroupCommand::Install { num: 2, shards: pulled(&a, 2, &[3]) });
    assert_eq!(b.apply(&append(7, 1, 3, "x")), ok());
    assert_eq!(get(&mut b, 3), value("xx"), "no-dedup-transfer: the retry is applied again");
}
