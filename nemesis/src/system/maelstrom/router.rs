//! The router: faultline as the network of a Maelstrom cluster. Every message a node writes
//! comes here and goes to its `dest`: another node (through the link's faults), a client (the
//! gateway connection waiting for that reply), or a service answered in-process.
//!
//! ```text
//!  node i stdout ─▶ route_from_node ─┬─ dest nJ: cut(i,j)? drop │ loss p? drop │ delay d? later ─▶ inbox j
//!                              ├─ dest cK: a request of cK waiting? ─▶ gateway │ else counted
//!                              ├─ dest lin-kv/seq-kv/lww-kv ─▶ services ─▶ inbox i
//!                              └─ anything else: counted (unknown dest)
//!  gateway ─▶ route_from_client(cK, i, body) ─▶ inbox i  (clients are never cut, as in Maelstrom)
//! ```
//!
//! Each node's inbox is a bounded queue of lines its stdin writer drains; a full inbox drops
//! the message and counts a flood. A delay holds each message for a seeded time between half
//! and one and a half times the delay, so messages overtake each other.
// Delays wait in real time and the per-second counts read the real clock.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use faultline_api::maelstrom::{Body, Message, NetworkStats, TEMPORARILY_UNAVAILABLE};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;

use super::services::Services;
use super::stats::{Drop, Stats};

/// Lines a node's inbox holds before a message to it is dropped as a flood.
pub(crate) const INBOX: usize = 10_000;

/// The link faults in force.
#[derive(Debug)]
struct Faults {
    cut: BTreeSet<(usize, usize)>,
    loss: f64,
    delay: Duration,
    duplicate: f64,
    rng: ChaCha8Rng,
}

/// What happens to one node-to-node message.
#[derive(Debug, PartialEq)]
enum Fate {
    Deliver,
    Drop(Drop),
    Hold(Duration),
}

/// One node's place in the router: the inbox of its current process, if running.
#[derive(Debug, Default, Clone)]
struct Slot {
    /// Which start of the node this is (each start or restart counts one).
    generation: u64,
    inbox: Option<mpsc::Sender<String>>,
    /// Answered `init_ok` since this start.
    ready: bool,
}

/// The router of one cluster (shared by the node tasks, the gateways and the cluster).
#[derive(Debug)]
pub(crate) struct Router {
    names: Vec<String>,
    slots: Mutex<Vec<Slot>>,
    clients: Mutex<BTreeMap<String, mpsc::UnboundedSender<Body>>>,
    /// Clients whose connection closed: a late reply to one is no misbehaviour.
    retired: Mutex<BTreeSet<String>>,
    /// Client requests waiting for a reply: (client, msg_id).
    waiting: Mutex<BTreeSet<(String, u64)>>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    services: Mutex<Services>,
    next_client: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Router {
    /// A router for `n` nodes (`n1`..), its loss and delay drawn from `seed`.
    pub(crate) fn new(n: usize, seed: u64) -> Arc<Router> {
        Arc::new(Router {
            names: (0..n).map(faultline_api::node_name).collect(),
            slots: Mutex::new(vec![Slot::default(); n]),
            clients: Mutex::default(),
            retired: Mutex::default(),
            waiting: Mutex::default(),
            faults: Mutex::new(Faults {
                cut: BTreeSet::new(),
                loss: 0.0,
                delay: Duration::ZERO,
                duplicate: 0.0,
                rng: ChaCha8Rng::seed_from_u64(seed ^ 0x726f_7574_6572),
            }),
            stats: Mutex::new(Stats::new(n, Instant::now())),
            services: Mutex::default(),
            next_client: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// The node names, `n1`..`nN`.
    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The node index `name` stands for.
    fn node(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// A fresh inbox for node `i` (a start or restart), not ready until `init_ok`: the
    /// start's generation, and the inbox's receiving end.
    pub(crate) fn connect_node(&self, i: usize) -> (u64, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(INBOX);
        let mut slots = lock(&self.slots);
        let slot = &mut slots[i];
        slot.generation += 1;
        slot.inbox = Some(tx);
        slot.ready = false;
        (slot.generation, rx)
    }

    /// The output of start `generation` of node `i` ended (it exited or was killed):
    /// nothing more goes to it, unless it was restarted meanwhile.
    pub(crate) fn disconnect_node(&self, i: usize, generation: u64) {
        let mut slots = lock(&self.slots);
        if slots[i].generation == generation {
            slots[i].inbox = None;
            slots[i].ready = false;
        }
    }

    /// Start `generation` of node `i` answered `init_ok`.
    pub(crate) fn set_ready(&self, i: usize, generation: u64) {
        let mut slots = lock(&self.slots);
        if slots[i].generation == generation {
            slots[i].ready = true;
        }
    }

    /// Whether node `i` answered `init_ok` since it last started.
    pub(crate) fn is_ready(&self, i: usize) -> bool {
        lock(&self.slots).get(i).is_some_and(|s| s.ready)
    }

    /// Nodes running and initialised.
    pub(crate) fn ready_count(&self) -> usize {
        lock(&self.slots).iter().filter(|s| s.ready).count()
    }

    /// Puts `msg` in node `i`'s inbox (a full inbox drops it as a flood; a node that is not
    /// running loses it, as a network would).
    pub(crate) fn deliver(&self, i: usize, msg: &Message) {
        let line = match serde_json::to_string(msg) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(node = self.names[i], "message not serialisable: {e}");
                return;
            }
        };
        let tx = lock(&self.slots)[i].inbox.clone();
        if let Some(tx) = tx {
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(line) {
                let why = format!("inbox of {} full ({INBOX} messages)", self.names[i]);
                self.misbehaved(Some(i), super::stats::Wrong::Flood, &why);
            }
        }
    }

    /// Counts and logs one misbehaviour of node `i` (or of no node in particular).
    pub(crate) fn misbehaved(&self, i: Option<usize>, what: super::stats::Wrong, line: &str) {
        let node = i.map_or("?", |i| self.names[i].as_str());
        let line_cut = faultline_api::cut(line, 200);
        match what {
            // A kill closes stdout too; the nemesis logs its kills.
            super::stats::Wrong::Exit => tracing::info!(node, "stdout closed"),
            _ => tracing::warn!(node, ?what, line = line_cut, "node misbehaved"),
        }
        lock(&self.stats).misbehaved(what, &format!("{node}: {line}"));
    }

    /// Routes a message node `i` wrote (twice, when the duplicate fault draws it).
    pub(crate) fn route_from_node(self: &Arc<Self>, i: usize, msg: Message) {
        if self.node(&msg.dest).is_some() && self.draw_duplicate() {
            lock(&self.stats).duplicated();
            self.route_once(i, msg.clone());
        }
        self.route_once(i, msg);
    }

    /// Whether the duplicate fault repeats the next node-to-node message.
    fn draw_duplicate(&self) -> bool {
        let mut f = lock(&self.faults);
        let p = f.duplicate;
        p > 0.0 && f.rng.random_bool(p)
    }

    fn route_once(self: &Arc<Self>, i: usize, msg: Message) {
        lock(&self.stats).routed();
        if let Some(j) = self.node(&msg.dest) {
            match self.fate(i, j) {
                Fate::Deliver => {
                    lock(&self.stats).link(i, j, None);
                    self.deliver(j, &msg);
                }
                Fate::Drop(why) => lock(&self.stats).link(i, j, Some(why)),
                Fate::Hold(d) => {
                    lock(&self.stats).link(i, j, Some(Drop::Delayed));
                    let me = self.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(d).await;
                        me.deliver(j, &msg);
                    });
                }
            }
        } else if let Some(svc) = Services::index(&msg.dest) {
            let body = lock(&self.services).handle(svc, &msg.body);
            lock(&self.stats).service();
            self.deliver(i, &Message { src: msg.dest, dest: msg.src, body });
        } else if msg.dest.starts_with('c') && lock(&self.clients).contains_key(&msg.dest) {
            let key = (msg.dest.clone(), msg.body.in_reply_to.unwrap_or(u64::MAX));
            let tx = lock(&self.clients).get(&msg.dest).cloned();
            match (lock(&self.waiting).remove(&key), tx) {
                (true, Some(tx)) => {
                    let _ = tx.send(msg.body);
                }
                _ => self.misbehaved(
                    Some(i),
                    super::stats::Wrong::ReplyToNoRequest,
                    &serde_json::to_string(&msg).unwrap_or_default(),
                ),
            }
        } else if lock(&self.retired).contains(&msg.dest) {
            tracing::debug!(
                node = self.names[i],
                client = msg.dest,
                "a reply after its client left"
            );
        } else {
            self.misbehaved(
                Some(i),
                super::stats::Wrong::UnknownDest,
                &serde_json::to_string(&msg).unwrap_or_default(),
            );
        }
    }

    /// What the faults in force do to one message from node `i` to node `j`.
    fn fate(&self, i: usize, j: usize) -> Fate {
        let mut f = lock(&self.faults);
        if f.cut.contains(&(i, j)) {
            return Fate::Drop(Drop::Cut);
        }
        let loss = f.loss;
        if loss > 0.0 && f.rng.random_bool(loss) {
            return Fate::Drop(Drop::Lost);
        }
        if f.delay > Duration::ZERO {
            let delay = f.delay;
            return Fate::Hold(delay.mul_f64(f.rng.random_range(0.5..1.5)));
        }
        Fate::Deliver
    }

    /// A new client (`c1`, `c2`, ..) and the channel its replies arrive on.
    pub(crate) fn register_client(
        &self,
    ) -> (String, mpsc::UnboundedSender<Body>, mpsc::UnboundedReceiver<Body>) {
        let k = self.next_client.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("c{k}");
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.clients).insert(name.clone(), tx.clone());
        (name, tx, rx)
    }

    /// The client is gone: its waiting requests are forgotten.
    pub(crate) fn unregister_client(&self, name: &str) {
        lock(&self.clients).remove(name);
        lock(&self.retired).insert(name.to_string());
        lock(&self.waiting).retain(|(c, _)| c != name);
    }

    /// Sends `body` (its `msg_id` set) from `client` to node `i`. A node that is not running
    /// or not initialised gets nothing: the answer is error 11 at once.
    ///
    /// # Errors
    /// The error body to give the client instead.
    pub(crate) fn route_from_client(&self, client: &str, i: usize, body: Body) -> Result<(), Body> {
        if !self.is_ready(i) {
            let why = format!("{} is not running", self.names[i]);
            return Err(Body::error(body.msg_id, TEMPORARILY_UNAVAILABLE, &why));
        }
        if let Some(id) = body.msg_id {
            lock(&self.waiting).insert((client.to_string(), id));
        }
        lock(&self.stats).routed();
        let msg = Message { src: client.into(), dest: self.names[i].clone(), body };
        self.deliver(i, &msg);
        Ok(())
    }

    /// Cuts exactly the directed links in `cut` (node indices).
    pub(crate) fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) {
        lock(&self.faults).cut = cut.clone();
    }

    /// Drops each node-to-node message with probability `p`.
    pub(crate) fn set_loss(&self, p: f64) {
        lock(&self.faults).loss = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
    }

    /// Delivers each node-to-node message twice with probability `p`.
    pub(crate) fn set_duplicate(&self, p: f64) {
        lock(&self.faults).duplicate = if p.is_finite() { p.clamp(0.0, 1.0) } else { 0.0 };
    }

    /// Holds each node-to-node message for about `d` (zero: none).
    pub(crate) fn set_delay(&self, d: Duration) {
        lock(&self.faults).delay = d;
    }

    /// Stops everything: no inbox takes messages any more.
    pub(crate) fn shutdown(&self) {
        lock(&self.slots).iter_mut().for_each(|s| *s = Slot::default());
        lock(&self.clients).clear();
    }

    /// Node-to-node messages dropped by cuts so far.
    pub(crate) fn cut_count(&self) -> u64 {
        lock(&self.stats).cut()
    }

    /// What the router counted so far.
    pub(crate) fn stats(&self) -> NetworkStats {
        lock(&self.stats).snapshot(&self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::maelstrom::stats::Wrong;

    fn msg(src: &str, dest: &str, kind: &str) -> Message {
        Message { src: src.into(), dest: dest.into(), body: Body::new(kind) }
    }

    fn drain(rx: &mut mpsc::Receiver<String>) -> Vec<Message> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|l| serde_json::from_str(&l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn cut_drops_one_way_and_heal_lets_through() {
        let r = Router::new(3, 1);
        let mut rx: Vec<_> = (0..3).map(|i| r.connect_node(i).1).collect();
        r.set_cut(&[(0, 1)].into_iter().collect());
        r.route_from_node(0, msg("n1", "n2", "a"));
        r.route_from_node(1, msg("n2", "n1", "b"));
        r.route_from_node(0, msg("n1", "n3", "c"));
        assert!(drain(&mut rx[1]).is_empty(), "n1 -> n2 is cut");
        assert_eq!(drain(&mut rx[0])[0].body.kind, "b", "n2 -> n1 is not");
        assert_eq!(drain(&mut rx[2])[0].body.kind, "c");
        r.set_cut(&BTreeSet::new());
        r.route_from_node(0, msg("n1", "n2", "d"));
        assert_eq!(drain(&mut rx[1])[0].body.kind, "d");
        assert_eq!(r.cut_count(), 1);
        let s = r.stats();
        let link = s.links.iter().find(|l| l.from == "n1" && l.to == "n2").unwrap();
        assert_eq!((link.delivered, link.dropped), (1, 1));
        assert_eq!(s.seconds.iter().map(|x| x.cut).sum::<u64>(), 1);
    }

    #[tokio::test]
    async fn loss_is_seeded_and_about_its_rate() {
        let count = |seed| {
            let r = Router::new(2, seed);
            let (_, mut rx) = r.connect_node(1);
            r.set_loss(0.3);
            for _ in 0..2000 {
                r.route_from_node(0, msg("n1", "n2", "x"));
            }
            drain(&mut rx).len()
        };
        let (a, b) = (count(7), count(7));
        assert_eq!(a, b, "same seed, same losses");
        assert!((1250..1550).contains(&a), "{a} of 2000 delivered at 30% loss");
    }

    #[tokio::test]
    async fn duplicate_repeats_some_messages() {
        let r = Router::new(2, 4);
        let (_, mut rx) = r.connect_node(1);
        r.set_duplicate(0.5);
        for _ in 0..1000 {
            r.route_from_node(0, msg("n1", "n2", "x"));
        }
        let got = drain(&mut rx).len();
        assert!((1400..1600).contains(&got), "{got} delivered of 1000 at 50% duplication");
        assert_eq!(r.stats().duplicated as usize, got - 1000);
    }

    #[tokio::test]
    async fn delay_holds_and_reorders() {
        let r = Router::new(2, 3);
        let (_, mut rx) = r.connect_node(1);
        r.set_delay(Duration::from_millis(40));
        for k in 0..50 {
            r.route_from_node(0, msg("n1", "n2", &format!("m{k}")));
        }
        assert!(drain(&mut rx).is_empty(), "nothing arrives at once");
        tokio::time::sleep(Duration::from_millis(120)).await;
        let got: Vec<String> = drain(&mut rx).into_iter().map(|m| m.body.kind).collect();
        assert_eq!(got.len(), 50);
        let in_order: Vec<String> = (0..50).map(|k| format!("m{k}")).collect();
        assert_ne!(got, in_order, "jitter reorders");
    }

    #[tokio::test]
    async fn misbehaviour_is_counted_and_clients_get_their_replies() {
        let r = Router::new(2, 1);
        let (generation, mut rx0) = r.connect_node(0);
        r.route_from_node(0, msg("n1", "n9", "x"));
        r.route_from_node(0, msg("n1", "c77", "x"));
        let (client, _, mut replies) = r.register_client();
        let mut req = Body::new("read").with("key", 1);
        req.msg_id = Some(5);
        assert_eq!(
            r.route_from_client(&client, 0, req.clone()).unwrap_err().error_code(),
            Some(11)
        );
        r.set_ready(0, generation);
        r.route_from_client(&client, 0, req).unwrap();
        assert_eq!(drain(&mut rx0)[0].src, client);
        let mut ok = Body::new("read_ok");
        ok.in_reply_to = Some(5);
        let reply = Message { src: "n1".into(), dest: client.clone(), body: ok };
        r.route_from_node(0, reply.clone());
        assert_eq!(replies.try_recv().unwrap().kind, "read_ok");
        r.route_from_node(0, reply); // a second answer to the same request
                                     // A client that left: a late answer to it is not counted.
        let (gone, _, _) = r.register_client();
        r.unregister_client(&gone);
        r.route_from_node(0, msg("n1", &gone, "read_ok"));
        r.misbehaved(Some(1), Wrong::NotAMessage, "hello");
        // A service answers the node that asked.
        let mut w = Body::new("write").with("key", 1).with("value", 2);
        w.msg_id = Some(1);
        r.route_from_node(0, Message { src: "n1".into(), dest: "lin-kv".into(), body: w });
        let answer = drain(&mut rx0);
        assert_eq!((answer[0].src.as_str(), answer[0].body.kind.as_str()), ("lin-kv", "write_ok"));
        let m = r.stats().misbehaviour;
        assert_eq!((m.unknown_dest, m.reply_to_no_request, m.not_a_message), (2, 1, 1));
        assert_eq!(m.samples.len(), 4);
        assert!(m.samples[3].starts_with("n2: hello"), "{:?}", m.samples);
    }

    #[tokio::test]
    async fn a_full_inbox_is_a_flood_not_a_stall() {
        let r = Router::new(2, 1);
        let _rx = r.connect_node(1);
        for _ in 0..INBOX + 5 {
            r.route_from_node(0, msg("n1", "n2", "x"));
        }
        assert_eq!(r.stats().misbehaviour.flood, 5);
    }
}
