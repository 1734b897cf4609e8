//! A replica group's state machine (6.824 lab 4B): the shards it holds, each a [`Kv`] with
//! its own session table, and the configurations it has reached, all changed only through
//! the group's own log so that every replica agrees on when a config took effect.
//!
//! ```text
//!  Config(n+1) ── only if every shard is settled ──▶ per shard:
//!      mine → not mine : BePulling (frozen; the new owner pulls it)
//!      not mine → mine : Pulling (from config n's owner), or Serving if that was nobody
//!  Install(n, data)  Pulling   ─▶ GcPending (served at once; old owner must delete it)
//!  Delete(n, shards) BePulling ─▶ removed (the new owner confirmed it has them)
//!  Settled(n, ...)   GcPending ─▶ Serving
//!  Client(op): assigned to us in the current config AND Serving/GcPending ? apply
//!              : assigned but Pulling ? NotArrived : WrongGroup
//!  Pull(n, shards): read-only; answered by a replica at config ≥ n with the shards' data
//! ```
//!
//! A shard handed over is frozen from the config that moves it, so any replica at that
//! config answers a pull with the same data; the group leaves config n only once every
//! shard it handed over was deleted and every shard it received was settled.

use super::config::{key_shard, Gid, ShardConfig, DEFAULT_SHARDS};
use crate::api::{Command, Response};
use crate::kv::Kv;
use crate::raft::types::{ClientId, NodeId, UnsafeBug};
use crate::service::{RestoreError, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a shard held by the group is in a configuration change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardState {
    /// Owned and served.
    Serving,
    /// Owned in the current config; its data has not arrived yet.
    Pulling,
    /// Moved to another group by the current config; kept, frozen, until it has it.
    BePulling,
    /// Arrived and served; the previous owner has not confirmed deleting it yet.
    GcPending,
}

/// One shard held by the group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Its state.
    pub state: ShardState,
    /// Its data and client sessions.
    pub kv: Kv,
}

/// A replica group's log command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupCommand {
    /// A client's KV operation (all go through the log, gets too).
    Client(Command),
    /// Move to this configuration (the next one).
    Config(ShardConfig),
    /// Shards pulled from their previous owner for config `num`.
    Install {
        /// The config that moved them here.
        num: u64,
        /// Their data and sessions.
        shards: BTreeMap<usize, Kv>,
    },
    /// From the new owner: it has these shards of config `num`; delete them.
    Delete {
        /// The config that moved them away.
        num: u64,
        /// The shards.
        shards: Vec<usize>,
    },
    /// The previous owner deleted these shards of config `num`.
    Settled {
        /// The config that moved them here.
        num: u64,
        /// The shards.
        shards: Vec<usize>,
    },
    /// From the new owner: the data of these shards as of config `num` (read-only).
    Pull {
        /// The config that moved them.
        num: u64,
        /// The shards.
        shards: Vec<usize>,
    },
}

/// A replica group's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupResponse {
    /// A KV answer (client operations, and not-leader / unknown for every command).
    Kv(Response),
    /// The key's shard is not this group's in its current config: re-query the controller.
    WrongGroup,
    /// The shard is this group's but its data has not arrived: retry later.
    NotArrived,
    /// Pulled shards.
    Shards(BTreeMap<usize, Kv>),
    /// This group has not reached the config asked about yet.
    NotReady,
    /// Done (config, install, delete, settled).
    Done,
    /// A config change or install that does not apply to the current state (a duplicate).
    Ignored,
}

impl GroupResponse {
    /// The `POST /v1/kv` body of an answer to a client command (`leader_addr` maps a node id
    /// to its client address); `None` for the answers of internal commands.
    pub fn to_body(
        &self,
        leader_addr: impl Fn(NodeId) -> Option<String>,
    ) -> Option<crate::api::ResponseBody> {
        use crate::api::{Reply, ResponseBody};
        let status = match self {
            GroupResponse::Kv(r) => return Some(r.to_body(leader_addr)),
            GroupResponse::WrongGroup => Reply::WrongGroup,
            GroupResponse::NotArrived => Reply::NotArrived,
            _ => return None,
        };
        Some(ResponseBody { status, value: None, error: Some(status.to_string()), leader: None })
    }
}

/// Options of a replica group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOptions {
    /// This group's id.
    pub gid: Gid,
    /// Shards per configuration (the controller's).
    pub shards: usize,
}

impl Default for GroupOptions {
    fn default() -> Self {
        GroupOptions { gid: Gid(1), shards: DEFAULT_SHARDS }
    }
}

/// The session that internal commands (config, install, delete, settled) are proposed
/// under; their answers are matched by (this, config number).
pub const INTERNAL_CLIENT: ClientId = ClientId(u64::MAX);

/// A replica group's replicated state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    gid: Gid,
    current: ShardConfig,
    previous: ShardConfig,
    shards: BTreeMap<usize, Shard>,
    #[serde(skip)]
    bug: Option<UnsafeBug>,
}

impl Group {
    /// A group at configuration 0, holding nothing.
    pub fn new(opts: &GroupOptions, bug: Option<UnsafeBug>) -> Group {
        let initial = ShardConfig::initial(opts.shards);
        Group {
            gid: opts.gid,
            current: initial.clone(),
            previous: initial,
            shards: BTreeMap::new(),
            bug,
        }
    }

    /// This group's id.
    pub fn gid(&self) -> Gid {
        self.gid
    }

    /// The configuration the group is in.
    pub fn current(&self) -> &ShardConfig {
        &self.current
    }

    /// The configuration before it.
    pub fn previous(&self) -> &ShardConfig {
        &self.previous
    }

    /// The shards held (any state).
    pub fn shards(&self) -> &BTreeMap<usize, Shard> {
        &self.shards
    }

    /// True when no shard is in the middle of a move: the next config may be applied.
    pub fn is_settled(&self) -> bool {
        self.shards.values().all(|s| s.state == ShardState::Serving)
    }

    /// The shards in `state`, ascending.
    pub fn shards_in(&self, state: ShardState) -> Vec<usize> {
        self.shards.iter().filter(|(_, s)| s.state == state).map(|(i, _)| *i).collect()
    }

    fn has_bug(&self, bug: UnsafeBug) -> bool {
        self.bug == Some(bug)
    }

    fn client(&mut self, cmd: &Command) -> GroupResponse {
        let s = key_shard(&cmd.key, self.current.shards.len());
        let assigned = self.current.owner(s) == self.gid;
        let early = self.has_bug(UnsafeBug::ShardServeEarly);
        let late = self.has_bug(UnsafeBug::ShardServeLate);
        let Some(shard) = self.shards.get_mut(&s) else {
            return GroupResponse::WrongGroup;
        };
        let serve = match shard.state {
            ShardState::Serving | ShardState::GcPending => assigned,
            ShardState::Pulling if early => true,
            ShardState::Pulling => return GroupResponse::NotArrived,
            ShardState::BePulling => late,
        };
        if serve {
            GroupResponse::Kv(shard.kv.apply(cmd))
        } else {
            GroupResponse::WrongGroup
        }
    }

    fn config(&mut self, next: &ShardConfig) -> GroupResponse {
        let in_order = next.num == self.current.num + 1;
        let skip = self.has_bug(UnsafeBug::ConfigSkip) && next.num > self.current.num;
        if !(in_order || skip)
            || !self.is_settled()
            || next.shards.len() != self.current.shards.len()
        {
            return GroupResponse::Ignored;
        }
        for s in 0..next.shards.len() {
            let (was, now) = (self.current.owner(s), next.owner(s));
            if was == self.gid && now != self.gid {
                if now == Gid::NONE {
                    // Nobody to hand it to: every group left (the controller allows it).
                    self.shards.remove(&s);
                } else if let Some(shard) = self.shards.get_mut(&s) {
                    shard.state = ShardState::BePulling;
                }
            } else if was != self.gid && now == self.gid {
                let state =
                    if was == Gid::NONE { ShardState::Serving } else { ShardState::Pulling };
                self.shards.insert(s, Shard { state, kv: Kv::new(false) });
            }
        }
        self.previous = std::mem::replace(&mut self.current, next.clone());
        GroupResponse::Done
    }

    fn install(&mut self, num: u64, data: &BTreeMap<usize, Kv>) -> GroupResponse {
        if num != self.current.num {
            return GroupResponse::Ignored;
        }
        for (s, kv) in data {
            if let Some(shard) = self.shards.get_mut(s) {
                if shard.state == ShardState::Pulling {
                    shard.kv = kv.clone();
                    shard.state = ShardState::GcPending;
                }
            }
        }
        GroupResponse::Done
    }

    fn delete(&mut self, num: u64, shards: &[usize]) -> GroupResponse {
        if num > self.current.num {
            return GroupResponse::NotReady;
        }
        if num == self.current.num {
            for s in shards {
                if self.shards.get(s).is_some_and(|x| x.state == ShardState::BePulling) {
                    self.shards.remove(s);
                }
            }
        }
        GroupResponse::Done
    }

    fn settled(&mut self, num: u64, shards: &[usize]) -> GroupResponse {
        if num == self.current.num {
            for s in shards {
                if let Some(shard) = self.shards.get_mut(s) {
                    if shard.state == ShardState::GcPending {
                        shard.state = ShardState::Serving;
                    }
                }
            }
        }
        GroupResponse::Done
    }

    fn pull(&self, num: u64, shards: &[usize]) -> GroupResponse {
        if self.current.num < num {
            return GroupResponse::NotReady;
        }
        // At config `num` the shards are BePulling here and frozen. Past it, the new owner
        // has installed them (they were deleted only after it asked), so it ignores this.
        let data = shards
            .iter()
            .map(|s| {
                let mut kv = self.shards.get(s).map(|x| x.kv.clone()).unwrap_or_default();
                if self.has_bug(UnsafeBug::ShardNoDedupTransfer) {
                    kv.forget_sessions();
                }
                (*s, kv)
            })
            .collect();
        GroupResponse::Shards(data)
    }
}

impl StateMachine for Group {
    type Command = GroupCommand;
    type Response = GroupResponse;
    type Options = GroupOptions;

    fn new(opts: &GroupOptions, bug: Option<UnsafeBug>) -> Group {
        Group::new(opts, bug)
    }

    fn request_id(cmd: &GroupCommand) -> (ClientId, u64) {
        match cmd {
            GroupCommand::Client(c) => (c.client, c.seq),
            GroupCommand::Config(c) => (INTERNAL_CLIENT, c.num),
            GroupCommand::Install { num, .. }
            | GroupCommand::Delete { num, .. }
            | GroupCommand::Settled { num, .. }
            | GroupCommand::Pull { num, .. } => (INTERNAL_CLIENT, *num),
        }
    }

    fn is_read(cmd: &GroupCommand) -> bool {
        matches!(cmd, GroupCommand::Pull { .. })
    }

    fn apply(&mut self, cmd: &GroupCommand) -> GroupResponse {
        match cmd {
            GroupCommand::Client(c) => self.client(c),
            GroupCommand::Config(c) => self.config(c),
            GroupCommand::Install { num, shards } => self.install(*num, shards),
            GroupCommand::Delete { num, shards } => self.delete(*num, shards),
            GroupCommand::Settled { num, shards } => self.settled(*num, shards),
            GroupCommand::Pull { num, shards } => self.pull(*num, shards),
        }
    }

    fn read(&self, cmd: &GroupCommand) -> GroupResponse {
        match cmd {
            GroupCommand::Pull { num, shards } => self.pull(*num, shards),
            _ => GroupResponse::Kv(Response::Fail { error: "not-a-read".into(), value: None }),
        }
    }

    fn not_leader(leader: Option<NodeId>) -> GroupResponse {
        GroupResponse::Kv(Response::NotLeader { leader })
    }

    fn unknown(reason: &str) -> GroupResponse {
        GroupResponse::Kv(Response::unknown(reason))
    }

    fn group_status(&self) -> Option<faultline_api::shard::GroupStatus> {
        Some(faultline_api::shard::GroupStatus {
            gid: self.gid,
            config: self.current.num,
            serving: self.shards_in(ShardState::Serving),
            pulling: self.shards_in(ShardState::Pulling),
            be_pulling: self.shards_in(ShardState::BePulling),
            gc_pending: self.shards_in(ShardState::GcPending),
        })
    }

    fn snapshot(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding the group state cannot fail")
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let opts = GroupOptions { gid: self.gid, shards: self.current.shards.len() };
        let mut restored =
            if bytes.is_empty() { Group::new(&opts, None) } else { postcard::from_bytes(bytes)? };
        restored.bug = self.bug;
        *self = restored;
        Ok(())
    }
}

#[cfg(test)]
#[path = "group_test.rs"]
mod tests;
