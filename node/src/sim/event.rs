//! The simulator's event queue, ordered by (virtual time, sequence number) so that equal
//! times pop in the order they were pushed.

use crate::api::Command;
use crate::raft::message::Message;
use crate::raft::types::NodeId;
use crate::service::RequestToken;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Something that happens at a virtual time.
#[derive(Clone, Debug)]
pub enum Event<C = Command> {
    /// The node's next tick (ignored when `epoch` is not the node's current incarnation).
    Tick {
        /// The node.
        node: NodeId,
        /// The incarnation that scheduled it.
        epoch: u64,
    },
    /// A message arrives.
    Deliver(Message),
    /// A node's disk finished the write with this sequence number.
    DiskDone {
        /// The node.
        node: NodeId,
        /// The incarnation that submitted it.
        epoch: u64,
        /// The write's sequence number.
        seq: u64,
    },
    /// A client request arrives at a node.
    Request {
        /// The node.
        node: NodeId,
        /// The request's token.
        token: RequestToken,
        /// The command.
        cmd: C,
    },
}

impl<C> Event<C> {
    /// The node this event happens at.
    pub fn node(&self) -> NodeId {
        match self {
            Event::Tick { node, .. }
            | Event::DiskDone { node, .. }
            | Event::Request { node, .. } => *node,
            Event::Deliver(msg) => msg.to,
        }
    }
}

struct Queued<C> {
    time: u64,
    seq: u64,
    event: Event<C>,
}

impl<C> PartialEq for Queued<C> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<C> Eq for Queued<C> {}
impl<C> PartialOrd for Queued<C> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<C> Ord for Queued<C> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// Events by (time, insertion order).
pub struct EventQueue<C = Command> {
    heap: BinaryHeap<Reverse<Queued<C>>>,
    seq: u64,
}

impl<C> Default for EventQueue<C> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<C> EventQueue<C> {
    /// Schedules `event` at `time`.
    pub fn push(&mut self, time: u64, event: Event<C>) {
        self.seq += 1;
        self.heap.push(Reverse(Queued { time, seq: self.seq, event }));
    }

    /// The time of the next event.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(q)| q.time)
    }

    /// Pops the next event.
    pub fn pop(&mut self) -> Option<(u64, Event<C>)> {
        self.heap.pop().map(|Reverse(q)| (q.time, q.event))
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

impl<C> std::fmt::Debug for EventQueue<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue").field("len", &self.heap.len()).finish()
    }
}
