//! The shard controller's state machine (6.824 lab 4A): the history of configurations,
//! changed by `join`, `leave` and `move`, read by `query`; replicated by its own Raft group
//! through the same [`Service`](crate::service::Service) as the KV store.
//!
//! ```text
//!  Join{gid→addrs} ─┐
//!  Leave[gids] ─────┼─▶ session seen? ─ no ─▶ config n+1 = config n + change ─▶ rebalance
//!  Move{shard,gid} ─┘                         (move: as given, no rebalance)
//!  Query(num | latest) ─▶ configs[num] (ReadIndex, no log entry)
//! ```

use super::config::{Gid, ShardConfig, DEFAULT_SHARDS};
use super::rebalance::rebalance;
use crate::raft::types::{ClientId, NodeId, UnsafeBug};
use crate::service::{RestoreError, StateMachine};
use crate::session::{Seen, Sessions};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What a controller request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlOp {
    /// New groups (or new addresses of known groups); rebalances.
    Join(BTreeMap<Gid, Vec<String>>),
    /// Groups that go away; rebalances.
    Leave(Vec<Gid>),
    /// Gives `shard` to `gid` (a known group), without rebalancing.
    Move {
        /// The shard.
        shard: usize,
        /// Its new owner.
        gid: Gid,
    },
    /// Configuration `num`; `None` (or a number not reached yet): the latest.
    Query(Option<u64>),
}

/// A controller request, with its client session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtrlCommand {
    /// The client session.
    pub client: ClientId,
    /// The request's sequence number in that session; a retry reuses it.
    pub seq: u64,
    /// What to do.
    pub op: CtrlOp,
}

/// The controller's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CtrlResponse {
    /// Done; the configuration it made (join / leave / move) or asked for (query).
    Ok(ShardConfig),
    /// Certainly not applied (`unknown-group`, `bad-shard`).
    Fail(String),
    /// This node does not lead.
    NotLeader(Option<NodeId>),
    /// May or may not have been applied.
    Unknown(String),
}

/// Options of a controller: the number of shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerOptions {
    /// Shards per configuration.
    pub shards: usize,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions { shards: DEFAULT_SHARDS }
    }
}

/// Every configuration so far, and the client sessions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controller {
    configs: Vec<ShardConfig>,
    sessions: Sessions<CtrlResponse>,
}

impl Controller {
    /// Configuration 0 with `shards` shards.
    pub fn new(shards: usize) -> Controller {
        Controller { configs: vec![ShardConfig::initial(shards)], sessions: Sessions::default() }
    }

    /// The latest configuration.
    pub fn latest(&self) -> &ShardConfig {
        // `configs` starts with configuration 0 and only grows.
        self.configs.last().expect("configuration 0 always exists")
    }

    /// Configuration `num`, or the latest when `num` is `None` or not reached yet.
    pub fn query(&self, num: Option<u64>) -> &ShardConfig {
        num.and_then(|n| self.configs.get(usize::try_from(n).ok()?)).unwrap_or(self.latest())
    }

    fn change(&mut self, op: &CtrlOp) -> CtrlResponse {
        let mut next = self.latest().clone();
        next.num += 1;
        match op {
            CtrlOp::Query(num) => return CtrlResponse::Ok(self.query(*num).clone()),
            CtrlOp::Join(groups) => {
                next.groups.extend(groups.iter().map(|(g, a)| (*g, a.clone())));
                next.groups.remove(&Gid::NONE);
                rebalance(&mut next.shards, &next.groups.keys().copied().collect());
            }
            CtrlOp::Leave(gids) => {
                for g in gids {
                    next.groups.remove(g);
                }
                let live: BTreeSet<Gid> = next.groups.keys().copied().collect();
                rebalance(&mut next.shards, &live);
            }
            CtrlOp::Move { shard, gid } => {
                if *shard >= next.shards.len() {
                    return CtrlResponse::Fail("bad-shard".into());
                }
                if !next.groups.contains_key(gid) {
                    return CtrlResponse::Fail("unknown-group".into());
                }
                next.shards[*shard] = *gid;
            }
        }
        self.configs.push(next.clone());
        CtrlResponse::Ok(next)
    }
}

impl StateMachine for Controller {
    type Command = CtrlCommand;
    type Response = CtrlResponse;
    type Options = ControllerOptions;

    fn new(opts: &ControllerOptions, _: Option<UnsafeBug>) -> Controller {
        Controller::new(opts.shards)
    }

    fn request_id(cmd: &CtrlCommand) -> (ClientId, u64) {
        (cmd.client, cmd.seq)
    }

    fn is_read(cmd: &CtrlCommand) -> bool {
        matches!(cmd.op, CtrlOp::Query(_))
    }

    fn apply(&mut self, cmd: &CtrlCommand) -> CtrlResponse {
        if Self::is_read(cmd) {
            return self.change(&cmd.op);
        }
        match self.sessions.seen(cmd.client, cmd.seq) {
            Seen::Retry(r) => return r,
            Seen::Stale => return CtrlResponse::Unknown("stale-request".into()),
            Seen::New => {}
        }
        let response = self.change(&cmd.op);
        self.sessions.record(cmd.client, cmd.seq, response.clone());
        response
    }

    fn read(&self, cmd: &CtrlCommand) -> CtrlResponse {
        match cmd.op {
            CtrlOp::Query(num) => CtrlResponse::Ok(self.query(num).clone()),
            _ => CtrlResponse::Fail("not-a-read".into()),
        }
    }

    fn not_leader(leader: Option<NodeId>) -> CtrlResponse {
        CtrlResponse::NotLeader(leader)
    }

    fn unknown(reason: &str) -> CtrlResponse {
        CtrlResponse::Unknown(reason.into())
    }

    fn snapshot(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding the controller state cannot fail")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        if bytes.is_empty() {
            let shards = self.configs[0].shards.len();
            *self = Controller::new(shards);
        } else {
            *self = postcard::from_bytes(bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cmd(seq: u64, op: CtrlOp) -> CtrlCommand {
        CtrlCommand { client: ClientId(1), seq, op }
    }

    fn join(gids: &[u64]) -> CtrlOp {
        CtrlOp::Join(gids.iter().map(|g| (Gid(*g), vec![format!("a{g}")])).collect())
    }

    fn ok(r: CtrlResponse) -> ShardConfig {
        match r {
            CtrlResponse::Ok(c) => c,
            other => panic!("expected ok, got {other:?}"),
        }
    }

    #[test]
    fn join_leave_move_query_and_dedup() {
        let mut c = Controller::new(10);
        let c1 = ok(c.apply(&cmd(1, join(&[1]))));
        assert_eq!((c1.num, c1.shards.clone()), (1, vec![Gid(1); 10]));
        assert_eq!(ok(c.apply(&cmd(1, join(&[1])))), c1, "a retry is not applied again");
        let c2 = ok(c.apply(&cmd(2, join(&[2]))));
        assert_eq!(c2.shards_of(Gid(2)).len(), 5);
        let c3 = ok(c.apply(&cmd(3, CtrlOp::Move { shard: 0, gid: Gid(2) })));
        assert_eq!(c3.owner(0), Gid(2));
        assert_eq!(
            c.apply(&cmd(4, CtrlOp::Move { shard: 10, gid: Gid(2) })),
            CtrlResponse::Fail("bad-shard".into())
        );
        assert_eq!(
            c.apply(&cmd(5, CtrlOp::Move { shard: 1, gid: Gid(9) })),
            CtrlResponse::Fail("unknown-group".into())
        );
        let c4 = ok(c.apply(&cmd(6, CtrlOp::Leave(vec![Gid(1)]))));
        assert_eq!((c4.num, c4.shards.clone()), (4, vec![Gid(2); 10]));
        assert_eq!(c.read(&cmd(0, CtrlOp::Query(Some(2)))), CtrlResponse::Ok(c2));
        assert_eq!(c.read(&cmd(0, CtrlOp::Query(None))), CtrlResponse::Ok(c4.clone()));
        assert_eq!(c.read(&cmd(0, CtrlOp::Query(Some(99)))), CtrlResponse::Ok(c4));
        let mut restored = Controller::new(10);
        StateMachine::restore(&mut restored, &StateMachine::snapshot(&c)).unwrap();
        assert_eq!(restored, c);
        assert!(StateMachine::restore(&mut restored, b"\xff\xff").is_err());
    }

    #[derive(Clone, Debug)]
    enum Step {
        Join(Vec<u64>),
        Leave(Vec<u64>),
        Move(usize, u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            proptest::collection::vec(1u64..9, 1..3).prop_map(Step::Join),
            proptest::collection::vec(1u64..9, 1..3).prop_map(Step::Leave),
            (0usize..10, 1u64..9).prop_map(|(s, g)| Step::Move(s, g)),
        ]
    }

    proptest! {
        /// Random join / leave / move sequences: every join or leave leaves the groups
        /// balanced and moves the fewest shards after the previous configuration, and two
        /// replicas applying the same sequence agree on every configuration.
        #[test]
        fn sequences_stay_balanced_and_agree(steps in proptest::collection::vec(step(), 1..30)) {
            let (mut a, mut b) = (Controller::new(10), Controller::new(10));
            for (i, s) in steps.iter().enumerate() {
                let op = match s {
                    Step::Join(g) => join(g),
                    Step::Leave(g) => CtrlOp::Leave(g.iter().map(|g| Gid(*g)).collect()),
                    Step::Move(shard, g) => CtrlOp::Move { shard: *shard, gid: Gid(*g) },
                };
                let before = a.latest().clone();
                let ra = a.apply(&cmd(i as u64 + 1, op.clone()));
                prop_assert_eq!(&ra, &b.apply(&cmd(i as u64 + 1, op)));
                let CtrlResponse::Ok(after) = ra else { continue };
                prop_assert_eq!(after.num, before.num + 1);
                if matches!(s, Step::Move(..)) {
                    continue;
                }
                let live: BTreeSet<Gid> = after.groups.keys().copied().collect();
                let counts: Vec<usize> = live.iter().map(|g| after.shards_of(*g).len()).collect();
                if let (Some(min), Some(max)) = (counts.iter().min(), counts.iter().max()) {
                    prop_assert!(max - min <= 1, "unbalanced {:?}", after);
                }
                let mut expect = before.shards.clone();
                rebalance(&mut expect, &live);
                prop_assert_eq!(&after.shards, &expect);
            }
            prop_assert_eq!(a, b);
        }
    }
}
