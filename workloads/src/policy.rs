//! The client retry policy as an I/O-free state machine: leader discovery, retries with the
//! same `(client, seq)`, and the mapping of attempts to ok / fail / unknown. The real
//! faultline client drives it over HTTP in real time; the node's simulator drives it over
//! simulated messages in virtual time, so the simulator tests the policy real runs use.
//!
//! ```text
//!   Policy::start ──▶ Send { to, timeout } ──(driver sends, waits)──▶ on_attempt(Attempt, t)
//!        ▲                                                               │
//!        └──── on_pause_over(t) ◀── Pause(d) ◀───────────────────────────┤
//!                                   Send { to: leader hint }  ◀──────────┤
//!                                   Finish(Outcome)           ◀──────────┘
//! ```
//!
//! The rule (openraft's error-handling semantics): `Fail` only when the operation
//! certainly did not take effect. Once any attempt may have been applied (a timeout, a reset
//! after sending, an `unknown` answer), a later `fail` is recorded as unknown
//! (`<reason>-after-retry`), and a deadline reached is unknown too. Reads change nothing, so a
//! read that could not finish is `Fail`, as Jepsen's etcd client does.
//!
//! Times are durations since the operation started, so real and virtual clocks both work.

use std::time::Duration;

use faultline_api::node::{LeaderHint, Reply, ResponseBody};
use serde_json::Value;

use crate::op::Outcome;

/// What one attempt said, before the policy decides. `T` names a node (an address for the
/// real client, a node id in the simulator).
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt<T> {
    /// A definite answer: ok, or certainly not applied.
    Done(Outcome),
    /// Rejected before proposing (certainly not applied); the leader, if the node knew it.
    NotLeader(Option<T>),
    /// Never reached the node (connection refused): certainly not applied.
    NotSent(String),
    /// May have been applied: a timeout, a reset after sending, an `unknown` answer.
    Uncertain(String),
}

/// What a node's answer to a client command says for the policy: the one mapping from a
/// reply (the body of `POST /v1/kv`, or the simulator's answer made into one) to an
/// [`Attempt`], for the real clients and the simulator alike. `leader` turns a not-leader
/// hint into the driver's name for the node; `ok` makes an applied operation's checker value
/// from the value the node read.
pub fn attempt<T>(
    body: ResponseBody,
    leader: impl FnOnce(LeaderHint) -> Option<T>,
    ok: impl FnOnce(Option<&str>) -> Value,
) -> Attempt<T> {
    match body.status {
        Reply::Ok => Attempt::Done(Outcome::Ok(ok(body.value.as_deref()))),
        Reply::Fail => Attempt::Done(Outcome::Fail(body.error.unwrap_or_else(|| "fail".into()))),
        Reply::NotLeader => Attempt::NotLeader(body.leader.and_then(leader)),
        Reply::Unknown => Attempt::Uncertain(body.error.unwrap_or_else(|| "unknown".into())),
        // Sharded KV: both are certainly not applied (a sharded client handles wrong-group
        // itself, by asking the controller where the key went).
        Reply::NotArrived => Attempt::NotSent("not-arrived".into()),
        Reply::WrongGroup => Attempt::NotSent("wrong-group".into()),
    }
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<T> {
    /// Send the request (same client and sequence number) to `to`; give up on this attempt
    /// after `timeout` and report it as `Attempt::Uncertain("timeout")`.
    Send {
        /// The node.
        to: T,
        /// How long this attempt may take.
        timeout: Duration,
    },
    /// Wait this long, then call [`Policy::on_pause_over`].
    Pause(Duration),
    /// The operation is over.
    Finish(Outcome),
}

/// The retry policy of one operation (see the module docs).
#[derive(Debug, Clone)]
pub struct Policy<T> {
    nodes: Vec<T>,
    /// The node the current attempt goes to (a leader hint may name one outside `nodes`).
    target: T,
    /// Round-robin position for when no leader is known.
    next: usize,
    is_read: bool,
    request_timeout: Duration,
    op_timeout: Duration,
    maybe_applied: bool,
    last: String,
    tries: u32,
}

/// The backoff before retry number `n` (from 1): 20 ms, 40 ms, ..., at most 200 ms.
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(20 * u64::from(n.clamp(1, 10)))
}

impl<T: Clone + PartialEq> Policy<T> {
    /// The policy of one operation that starts on `nodes[home]`.
    ///
    /// # Panics
    /// When `nodes` is empty (clients refuse empty endpoint lists before this).
    pub fn new(
        nodes: Vec<T>,
        home: usize,
        is_read: bool,
        request_timeout: Duration,
        op_timeout: Duration,
    ) -> Self {
        assert!(!nodes.is_empty(), "a policy needs at least one node");
        let home = home % nodes.len();
        Policy {
            target: nodes[home].clone(),
            next: home + 1,
            nodes,
            is_read,
            request_timeout,
            op_timeout,
            maybe_applied: false,
            last: "timeout".into(),
            tries: 0,
        }
    }

    /// The first attempt.
    pub fn start(&mut self) -> Decision<T> {
        self.send(Duration::ZERO)
    }

    /// Whether some attempt may have been applied.
    pub fn maybe_applied(&self) -> bool {
        self.maybe_applied
    }

    /// The latest attempt ended as `attempt`, `elapsed` after the operation started.
    pub fn on_attempt(&mut self, attempt: Attempt<T>, elapsed: Duration) -> Decision<T> {
        match attempt {
            Attempt::Done(Outcome::Ok(v)) => Decision::Finish(Outcome::Ok(v)),
            Attempt::Done(other) if !self.maybe_applied => Decision::Finish(other),
            Attempt::Done(Outcome::Fail(e) | Outcome::Unknown(e)) => {
                Decision::Finish(Outcome::Unknown(format!("{e}-after-retry")))
            }
            Attempt::NotLeader(hint) => {
                self.last = "not-leader".into();
                match hint {
                    Some(leader) if leader != self.target => {
                        self.target = leader;
                        self.send(elapsed)
                    }
                    _ => self.rotate_and_pause(elapsed),
                }
            }
            Attempt::NotSent(e) => {
                self.last = e;
                self.rotate_and_pause(elapsed)
            }
            Attempt::Uncertain(e) => {
                // A read changes nothing, whatever happened to it.
                self.maybe_applied |= !self.is_read;
                self.last = e;
                self.rotate_and_pause(elapsed)
            }
        }
    }

    /// A [`Decision::Pause`] is over.
    pub fn on_pause_over(&mut self, elapsed: Duration) -> Decision<T> {
        self.send(elapsed)
    }

    /// Sharded systems: the operation's key now belongs to the group whose servers are
    /// `nodes` (after a wrong-group answer, certainly not applied there, and a fresh
    /// config). Continues there, keeping what earlier attempts may have done; the same
    /// group keeps the current target.
    pub fn regroup(&mut self, nodes: Vec<T>, elapsed: Duration) -> Decision<T> {
        if !nodes.is_empty() && nodes != self.nodes {
            self.target = nodes[0].clone();
            self.next = 1 % nodes.len();
            self.nodes = nodes;
        }
        self.send(elapsed)
    }

    fn rotate_and_pause(&mut self, elapsed: Duration) -> Decision<T> {
        self.target = self.nodes[self.next % self.nodes.len()].clone();
        self.next = (self.next + 1) % self.nodes.len();
        if elapsed >= self.op_timeout {
            return self.give_up();
        }
        Decision::Pause(backoff(self.tries).min(self.op_timeout - elapsed))
    }

    fn send(&mut self, elapsed: Duration) -> Decision<T> {
        if elapsed >= self.op_timeout {
            return self.give_up();
        }
        self.tries += 1;
        let timeout = self.request_timeout.min(self.op_timeout - elapsed);
        Decision::Send { to: self.target.clone(), timeout }
    }

    /// The deadline passed: unknown if any attempt may have been applied, else fail.
    fn give_up(&mut self) -> Decision<T> {
        let last = std::mem::take(&mut self.last);
        if self.maybe_applied && !self.is_read {
            Decision::Finish(Outcome::Unknown(last))
        } else {
            Decision::Finish(Outcome::Fail(last))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    const MS: Duration = Duration::from_millis(1);

    fn policy(is_read: bool) -> Policy<u8> {
        Policy::new(vec![1, 2, 3], 0, is_read, 100 * MS, 1000 * MS)
    }

    #[test]
    fn follows_a_leader_hint_at_once_and_rotates_without_one() {
        let mut p = policy(false);
        assert_eq!(p.start(), Decision::Send { to: 1, timeout: 100 * MS });
        assert_eq!(
            p.on_attempt(Attempt::NotLeader(Some(3)), 5 * MS),
            Decision::Send { to: 3, timeout: 100 * MS }
        );
        assert_eq!(p.on_attempt(Attempt::NotLeader(Some(3)), 6 * MS), Decision::Pause(40 * MS));
        assert_eq!(p.on_pause_over(46 * MS), Decision::Send { to: 2, timeout: 100 * MS });
        assert_eq!(
            p.on_attempt(Attempt::Done(Outcome::Ok(json!(1))), 50 * MS),
            Decision::Finish(Outcome::Ok(json!(1)))
        );
    }

    #[test]
    fn a_fail_after_a_maybe_applied_attempt_is_unknown() {
        let mut p = policy(false);
        p.start();
        assert_eq!(
            p.on_attempt(Attempt::Uncertain("timeout".into()), 100 * MS),
            Decision::Pause(20 * MS)
        );
        assert!(p.maybe_applied());
        p.on_pause_over(120 * MS);
        assert_eq!(
            p.on_attempt(Attempt::Done(Outcome::Fail("cas-mismatch".into())), 130 * MS),
            Decision::Finish(Outcome::Unknown("cas-mismatch-after-retry".into()))
        );
    }

    #[test]
    fn regroup_moves_on_and_keeps_maybe_applied() {
        let mut p = policy(false);
        p.start();
        p.on_attempt(Attempt::Uncertain("timeout".into()), 100 * MS);
        assert_eq!(p.regroup(vec![7, 8], 130 * MS), Decision::Send { to: 7, timeout: 100 * MS });
        assert_eq!(p.regroup(vec![7, 8], 140 * MS), Decision::Send { to: 7, timeout: 100 * MS });
        assert_eq!(
            p.on_attempt(Attempt::Done(Outcome::Fail("x".into())), 150 * MS),
            Decision::Finish(Outcome::Unknown("x-after-retry".into())),
            "the attempt before the move may have been applied"
        );
        assert_eq!(
            p.regroup(vec![9], 1000 * MS),
            Decision::Finish(Outcome::Unknown("timeout".into()))
        );
    }

    #[test]
    fn deadlines_give_fail_or_unknown() {
        // Never applied anywhere: certainly not applied.
        let mut p = policy(false);
        p.start();
        assert_eq!(
            p.on_attempt(Attempt::NotSent("connect".into()), 1000 * MS),
            Decision::Finish(Outcome::Fail("connect".into()))
        );
        // Maybe applied: unknown.
        let mut p = policy(false);
        p.start();
        p.on_attempt(Attempt::Uncertain("timeout".into()), 990 * MS);
        assert_eq!(
            p.on_pause_over(1000 * MS),
            Decision::Finish(Outcome::Unknown("timeout".into()))
        );
        // A read that timed out changed nothing.
        let mut p = policy(true);
        p.start();
        p.on_attempt(Attempt::Uncertain("timeout".into()), 990 * MS);
        assert_eq!(p.on_pause_over(1000 * MS), Decision::Finish(Outcome::Fail("timeout".into())));
        // The last attempt never outlives the operation.
        let mut p = policy(false);
        p.start();
        p.on_attempt(Attempt::NotSent("connect".into()), 950 * MS);
        assert_eq!(p.on_pause_over(960 * MS), Decision::Send { to: 2, timeout: 40 * MS });
    }
}
