//! The [`Migrator`]: the I/O-free part of a replica group's leader that moves the group from
//! config to config. It says what to ask (the next config from the controller, shard data
//! from the previous owners, deletions once shards arrived) and which command to propose
//! when an answer comes; the driver (tokio runtime or simulator) carries the requests.
//!
//! ```text
//!  tick ─▶ settled & poll due?  ─▶ Query(num+1) ──▶ controller ─ config n+1 ─▶ propose Config
//!       ─▶ Pulling shards?      ─▶ Pull(n, ss) ───▶ old owner ─ Shards ─────▶ propose Install
//!       ─▶ GcPending shards?    ─▶ Delete(n, ss) ─▶ old owner ─ Done ───────▶ propose Settled
//! ```
//!
//! Every request is idempotent and re-sent until the group's state shows it done, so lost
//! requests, lost answers and leader changes only delay a move.

use super::config::{Gid, ShardConfig};
use super::group::{Group, GroupCommand, GroupResponse, ShardState};
use crate::raft::types::UnsafeBug;
use std::collections::BTreeMap;

/// A request the group leader sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// Ask the controller for configuration `num` (`None`: the latest).
    Query(Option<u64>),
    /// Send `cmd` to group `gid`, whose servers are `servers`.
    Group {
        /// The group.
        gid: Gid,
        /// Its servers, from the configuration that names it.
        servers: Vec<String>,
        /// A `Pull` or a `Delete`.
        cmd: GroupCommand,
    },
}

/// When to poll and re-send; see the module docs.
#[derive(Clone, Debug)]
pub struct Migrator {
    poll_every: u64,
    retry_every: u64,
    next_poll: u64,
    next_retry: u64,
    skip: bool,
}

impl Migrator {
    /// Polls the controller every `poll_every` driver ticks and re-sends pulls and deletes
    /// every `retry_every`; `bug` is the node's planted bug.
    pub fn new(poll_every: u64, retry_every: u64, bug: Option<UnsafeBug>) -> Migrator {
        Migrator {
            poll_every,
            retry_every,
            next_poll: 0,
            next_retry: 0,
            skip: bug == Some(UnsafeBug::ConfigSkip),
        }
    }

    /// What to send at driver tick `now` (call it on the leader only).
    pub fn tick(&mut self, now: u64, group: &Group) -> Vec<Outbound> {
        let mut out = Vec::new();
        if now >= self.next_poll && group.is_settled() {
            self.next_poll = now + self.poll_every;
            let num = group.current().num + 1;
            out.push(Outbound::Query(if self.skip { None } else { Some(num) }));
        }
        if now >= self.next_retry {
            self.next_retry = now + self.retry_every;
            let num = group.current().num;
            for (gid, shards) in by_previous_owner(group, ShardState::Pulling) {
                let servers = group.previous().groups.get(&gid).cloned().unwrap_or_default();
                let cmd = GroupCommand::Pull { num, shards };
                out.push(Outbound::Group { gid, servers, cmd });
            }
            for (gid, shards) in by_previous_owner(group, ShardState::GcPending) {
                let servers = group.previous().groups.get(&gid).cloned().unwrap_or_default();
                let cmd = GroupCommand::Delete { num, shards };
                out.push(Outbound::Group { gid, servers, cmd });
            }
        }
        out
    }

    /// The controller answered a query: the config command to propose, if `cfg` is next.
    pub fn on_config(&self, group: &Group, cfg: ShardConfig) -> Option<GroupCommand> {
        let cur = group.current().num;
        let next = if self.skip { cfg.num > cur } else { cfg.num == cur + 1 };
        (next && group.is_settled()).then_some(GroupCommand::Config(cfg))
    }

    /// Group `sent` was answered with `reply`: the command to propose, if any.
    pub fn on_reply(
        &self,
        group: &Group,
        sent: &GroupCommand,
        reply: GroupResponse,
    ) -> Option<GroupCommand> {
        let cur = group.current().num;
        match (sent, reply) {
            (GroupCommand::Pull { num, .. }, GroupResponse::Shards(data)) if *num == cur => {
                let pulling = group.shards_in(ShardState::Pulling);
                let shards: BTreeMap<_, _> =
                    data.into_iter().filter(|(s, _)| pulling.contains(s)).collect();
                (!shards.is_empty()).then_some(GroupCommand::Install { num: *num, shards })
            }
            (GroupCommand::Delete { num, shards }, GroupResponse::Done) if *num == cur => {
                let pending = group.shards_in(ShardState::GcPending);
                let shards: Vec<usize> =
                    shards.iter().copied().filter(|s| pending.contains(s)).collect();
                (!shards.is_empty()).then_some(GroupCommand::Settled { num: *num, shards })
            }
            _ => None,
        }
    }
}

/// The shards in `state`, by their owner in the previous config.
fn by_previous_owner(group: &Group, state: ShardState) -> BTreeMap<Gid, Vec<usize>> {
    let mut out: BTreeMap<Gid, Vec<usize>> = BTreeMap::new();
    for s in group.shards_in(state) {
        out.entry(group.previous().owner(s)).or_default().push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::StateMachine;
    use crate::shard::group::GroupOptions;

    fn config(num: u64, owners: [u64; 2]) -> ShardConfig {
        let shards = owners.iter().map(|g| Gid(*g)).collect();
        let groups = [(Gid(1), vec!["a1".to_string()]), (Gid(2), vec!["a2".to_string()])];
        ShardConfig { num, shards, groups: groups.into_iter().collect() }
    }

    #[test]
    fn polls_pulls_and_deletes_until_settled() {
        let opts = GroupOptions { gid: Gid(2), shards: 2 };
        let mut g = Group::new(&opts, None);
        let mut m = Migrator::new(10, 5, None);
        assert_eq!(m.tick(0, &g), vec![Outbound::Query(Some(1))]);
        assert_eq!(m.tick(3, &g), vec![], "not due yet");
        assert_eq!(m.on_config(&g, config(2, [1, 1])), None, "not the next config");
        let c1 = m.on_config(&g, config(1, [1, 1])).unwrap();
        g.apply(&c1);
        g.apply(&GroupCommand::Config(config(2, [1, 2])));
        let pull = GroupCommand::Pull { num: 2, shards: vec![1] };
        let expect = Outbound::Group { gid: Gid(1), servers: vec!["a1".into()], cmd: pull.clone() };
        assert_eq!(m.tick(10, &g), vec![expect], "unsettled: no poll, a pull");
        assert_eq!(m.on_reply(&g, &pull, GroupResponse::NotReady), None);
        let data: BTreeMap<usize, crate::kv::Kv> = [(1, Default::default())].into();
        let install = m.on_reply(&g, &pull, GroupResponse::Shards(data)).unwrap();
        g.apply(&install);
        let delete = GroupCommand::Delete { num: 2, shards: vec![1] };
        let out = m.tick(20, &g);
        assert_eq!(
            out,
            vec![Outbound::Group { gid: Gid(1), servers: vec!["a1".into()], cmd: delete.clone() }]
        );
        let settled = m.on_reply(&g, &delete, GroupResponse::Done).unwrap();
        g.apply(&settled);
        assert!(g.is_settled());
        assert_eq!(m.tick(30, &g), vec![Outbound::Query(Some(3))]);
        let mut skip = Migrator::new(10, 5, Some(UnsafeBug::ConfigSkip));
        assert_eq!(skip.tick(0, &g), vec![Outbound::Query(None)]);
    }
}
