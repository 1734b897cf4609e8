//! The 6.824 Raft scenarios (labs 2A-2D), ported to the simulator. Differences: a new leader
//! appends a no-op, so commands do not start at index 1 (tests check that indexes grow);
//! time is virtual; each scenario runs a range of seeds (`FAULTLINE_SEED`, `FAULTLINE_SEEDS`).

use super::harness::H;
use crate::raft::types::{LogIndex, NodeId};
use rand::Rng;

/// Runs `f` for each seed of the test's range.
fn seeds(name: &str, first: u64, count: u64, f: impl Fn(&mut H)) {
    for seed in super::seeds_from_env(first, count) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut h = H::new(name, seed);
            f(&mut h);
            h.check_safety();
        }));
        if let Err(panic) = result {
            eprintln!("{}", super::repro(name, seed));
            std::panic::resume_unwind(panic);
        }
    }
}

#[test]
fn initial_election() {
    seeds("initial_election", 1, 4, |h| {
        h.start_cluster(3, false);
        h.check_one_leader();
        h.run_ms(50);
        let term1 = h.check_terms();
        h.assert(term1 >= 1, format!("term is {term1}, but an election should have happened"));
        // With no failure, the leader and term stay.
        h.run_ms(2 * 600);
        let term2 = h.check_terms();
        h.assert(term1 == term2, format!("term changed from {term1} to {term2} with no failure"));
        h.check_one_leader();
    });
}

#[test]
fn re_election() {
    seeds("re_election", 1, 4, |h| {
        h.start_cluster(3, false);
        let leader1 = h.check_one_leader();
        h.disconnect(leader1);
        h.check_one_leader();
        h.connect(leader1);
        let leader2 = h.check_one_leader();
        h.disconnect(leader2);
        h.disconnect(h.other(leader2, 1));
        h.run_ms(2 * 600);
        h.check_no_leader();
        h.connect(h.other(leader2, 1));
        h.check_one_leader();
        h.connect(leader2);
        h.check_one_leader();
    });
}

#[test]
fn many_elections() {
    seeds("many_elections", 1, 2, |h| {
        h.start_cluster(7, false);
        h.check_one_leader();
        for _ in 0..10 {
            let ids = h.ids();
            let picks: Vec<NodeId> =
                (0..3).map(|_| ids[h.sim().rng().random_range(0..ids.len())]).collect();
            for p in &picks {
                h.disconnect(*p);
            }
            h.check_one_leader();
            for p in &picks {
                h.connect(*p);
            }
        }
        h.check_one_leader();
    });
}

#[test]
fn basic_agree() {
    seeds("basic_agree", 1, 4, |h| {
        h.start_cluster(3, false);
        let mut last = LogIndex(0);
        for i in 1..=3u64 {
            let (n, _) = h.n_committed(last.next());
            h.assert(n == 0 || last.0 == 0, "committed before start".into());
            let index = h.one(i * 100, 3, false);
            h.assert(index > last, format!("index {index} after {last}"));
            last = index;
        }
    });
}

#[test]
fn rpc_bytes() {
    seeds("rpc_bytes", 1, 3, |h| {
        h.start_cluster(3, false);
        h.one(99, 3, false);
        let bytes0 = h.sim().stats().bytes;
        let mut sent = 0u64;
        for i in 0..10u64 {
            let big = "x".repeat(5000);
            let index = h.one_cmd(h.big_cmd(1000 + i, &big), 3, false);
            let _ = index;
            sent += 5000;
        }
        let got = h.sim().stats().bytes - bytes0;
        let expected = 2 * sent; // each command goes to each of 2 followers once
        h.assert(
            got <= expected + 50_000,
            format!("too many RPC bytes: {got}, expected ~{expected}"),
        );
    });
}

#[test]
fn fail_agree() {
    seeds("fail_agree", 1, 4, |h| {
        h.start_cluster(3, false);
        h.one(101, 3, false);
        let leader = h.check_one_leader();
        h.disconnect(h.other(leader, 1));
        h.one(102, 2, false);
        h.one(103, 2, false);
        h.run_ms(600);
        h.one(104, 2, false);
        h.one(105, 2, false);
        h.connect(h.other(leader, 1));
        h.one(106, 3, true);
        h.run_ms(600);
        h.one(107, 3, true);
    });
}

#[test]
fn fail_no_agree() {
    seeds("fail_no_agree", 1, 4, |h| {
        h.start_cluster(5, false);
        h.one(10, 5, false);
        let leader = h.check_one_leader();
        for k in 1..=3 {
            h.disconnect(h.other(leader, k));
        }
        let (index, _) =
            h.start_at(leader, 20).unwrap_or_else(|| h.fail("leader rejected Start()"));
        h.run_ms(2000);
        let (n, _) = h.n_committed(index);
        h.assert(n == 0, format!("{n} committed but no majority"));
        for k in 1..=3 {
            h.connect(h.other(leader, k));
        }
        let leader2 = h.check_one_leader();
        h.start_at(leader2, 30).unwrap_or_else(|| h.fail("leader2 rejected Start()"));
        h.one(1000, 5, true);
    });
}

#[test]
fn concurrent_starts() {
    seeds("concurrent_starts", 1, 4, |h| {
        h.start_cluster(3, false);
        'attempt: for _ in 0..5 {
            let leader = h.check_one_leader();
            let Some((_, term)) = h.start_at(leader, 1) else { continue };
            let mut indexes = Vec::new();
            for i in 0..5u64 {
                match h.start_at(leader, 100 + i) {
                    Some((index, t)) if t == term => indexes.push((index, 100 + i)),
                    _ => continue 'attempt,
                }
            }
            for (index, value) in indexes {
                match h.wait(index, 3, term) {
                    Some(v) => h.assert(v == value, format!("index {index}: {v} != {value}")),
                    None => continue 'attempt,
                }
            }
            return;
        }
        h.fail("term changed too often");
    });
}

#[test]
fn rejoin() {
    seeds("rejoin", 1, 4, |h| {
        h.start_cluster(3, false);
        h.one(101, 3, true);
        let leader1 = h.check_one_leader();
        h.disconnect(leader1);
        // The old leader appends entries that will never commit.
        h.start_at(leader1, 102);
        h.start_at(leader1, 103);
        h.start_at(leader1, 104);
        h.one(103, 2, true);
        let leader2 = h.check_one_leader();
        h.disconnect(leader2);
        h.connect(leader1);
        h.one(104, 2, true);
        h.connect(leader2);
        h.one(105, 3, true);
    });
}

#[test]
fn backup() {
    seeds("backup", 1, 3, |h| {
        h.start_cluster(5, false);
        h.one_rand(5);
        let leader1 = h.check_one_leader();
        for k in 2..=4 {
            h.disconnect(h.other(leader1, k));
        }
        for _ in 0..50 {
            let v = h.rand_value();
            h.start_at(leader1, v);
        }
        h.run_ms(300);
        h.disconnect(leader1);
        h.disconnect(h.other(leader1, 1));
        for k in 2..=4 {
            h.connect(h.other(leader1, k));
        }
        for _ in 0..50 {
            let v = h.rand_value();
            h.one(v, 3, true);
        }
        let leader2 = h.check_one_leader();
        let other =
            (1..=4).map(|k| h.other(leader1, k)).find(|n| *n != leader2 && h.is_connected(*n));
        let other = other.unwrap_or_else(|| h.fail("no other connected node"));
        h.disconnect(other);
        for _ in 0..50 {
            let v = h.rand_value();
            h.start_at(leader2, v);
        }
        h.run_ms(300);
        for id in h.ids() {
            h.disconnect(id);
        }
        h.connect(leader1);
        h.connect(h.other(leader1, 1));
        h.connect(other);
        for _ in 0..50 {
            let v = h.rand_value();
            h.one(v, 3, true);
        }
        for id in h.ids() {
            h.connect(id);
        }
        let v = h.rand_value();
        h.one(v, 5, true);
    });
}

#[test]
fn rpc_counts() {
    seeds("rpc_counts", 1, 3, |h| {
        h.start_cluster(3, false);
        h.check_one_leader();
        let total1 = h.sim().stats().messages;
        // Pre-vote doubles 6.824's bound of 30 RPCs for an election.
        h.assert(total1 <= 60, format!("too many RPCs ({total1}) for one election"));
        let leader = h.check_one_leader();
        let before = h.sim().stats().messages;
        let Some((start_index, term)) = h.start_at(leader, 1) else { return };
        let mut values = vec![(start_index, 1)];
        for i in 1..10u64 {
            match h.start_at(leader, 100 + i) {
                Some((index, t)) if t == term => values.push((index, 100 + i)),
                _ => return,
            }
        }
        for (index, v) in values {
            match h.wait(index, 3, term) {
                Some(got) => h.assert(got == v, format!("wrong value {got} at {index}")),
                None => return,
            }
        }
        let used = h.sim().stats().messages - before;
        // Batching: 10 commands need far fewer than 6.824's (1 + 10) * 3 RPCs... plus heartbeats.
        h.assert(used <= (1 + 10) * 3 * 2, format!("too many RPCs ({used}) for 10 entries"));
        let idle0 = h.sim().stats().messages;
        h.run_ms(1000);
        let idle = h.sim().stats().messages - idle0;
        // Heartbeats every 50 ms to 2 followers, answered: 2 * 2 * 20 = 80.
        h.assert(idle <= 100, format!("too many RPCs ({idle}) in 1 s of idleness"));
    });
}

#[test]
fn persist1() {
    seeds("persist1", 1, 3, |h| {
        h.start_cluster(3, false);
        h.one(11, 3, true);
        for id in h.ids() {
            h.crash(id);
        }
        for id in h.ids() {
            h.restart(id);
        }
        h.one(12, 3, true);
        let leader1 = h.check_one_leader();
        h.crash(leader1);
        h.restart(leader1);
        h.one(13, 3, true);
        let leader2 = h.check_one_leader();
        h.crash(leader2);
        h.one(14, 2, true);
        h.restart(leader2);
        let index = h.one(15, 3, true);
        let _ = index;
        let l = h.check_one_leader();
        let i3 = h.other(l, 1);
        h.crash(i3);
        h.one(16, 2, true);
        h.restart(i3);
        h.one(17, 3, true);
    });
}

#[test]
fn persist2() {
    seeds("persist2", 1, 2, |h| {
        h.start_cluster(5, false);
        let mut value = 1;
        for _ in 0..5 {
            h.one(10 + value, 5, true);
            value += 1;
            let leader1 = h.check_one_leader();
            h.crash(h.other(leader1, 1));
            h.crash(h.other(leader1, 2));
            h.one(10 + value, 3, true);
            value += 1;
            h.crash(leader1);
            h.crash(h.other(leader1, 3));
            h.crash(h.other(leader1, 4));
            h.restart(h.other(leader1, 1));
            h.restart(h.other(leader1, 2));
            h.run_ms(600);
            h.restart(h.other(leader1, 3));
            h.one(10 + value, 3, true);
            value += 1;
            h.restart(h.other(leader1, 4));
            h.restart(leader1);
        }
        h.one(1000, 5, true);
    });
}

#[test]
fn persist3() {
    seeds("persist3", 1, 3, |h| {
        h.start_cluster(3, false);
        h.one(101, 3, true);
        let leader = h.check_one_leader();
        h.disconnect(h.other(leader, 2));
        h.one(102, 2, true);
        h.crash(leader);
        h.crash(h.other(leader, 1));
        h.connect(h.other(leader, 2));
        h.restart(leader);
        h.one(103, 2, true);
        h.restart(h.other(leader, 1));
        h.one(104, 3, true);
    });
}

#[test]
fn figure8() {
    seeds("figure8", 1, 2, |h| figure8_body(h, false, 300));
}

#[test]
fn figure8_unreliable() {
    seeds("figure8_unreliable", 1, 2, |h| figure8_body(h, true, 300));
}

fn figure8_body(h: &mut H, unreliable: bool, iters: usize) {
    h.start_cluster(5, unreliable);
    h.one_rand(1);
    let mut up = 5;
    for _ in 0..iters {
        let mut leader = None;
        for id in h.ids() {
            let v = h.rand_value();
            if h.start_at(id, v).is_some() {
                leader = Some(id);
            }
        }
        let ms = if h.sim().rng().random_range(0..1000) < 100 {
            h.sim().rng().random_range(0..250)
        } else {
            h.sim().rng().random_range(0..13)
        };
        h.run_ms(ms);
        if let Some(l) = leader {
            if unreliable {
                h.disconnect(l);
            } else {
                h.crash(l);
            }
            up -= 1;
        }
        if up < 3 {
            let ids = h.ids();
            let s = ids[h.sim().rng().random_range(0..ids.len())];
            let down = if unreliable { !h.is_connected(s) } else { !h.sim().is_up(s) };
            if down {
                if unreliable {
                    h.connect(s);
                } else {
                    h.restart(s);
                }
                up += 1;
            }
        }
    }
    for id in h.ids() {
        h.restart(id);
        h.connect(id);
    }
    if unreliable {
        h.sim().net.cfg = super::NetConfig::reliable();
    }
    let v = h.rand_value();
    h.one(v, 5, true);
}

#[test]
fn unreliable_agree() {
    seeds("unreliable_agree", 1, 2, |h| {
        h.start_cluster(5, true);
        for iter in 1..30u64 {
            for j in 0..4u64 {
                // 6.824 runs these concurrently; a Start on every node is the closest here.
                for id in h.ids() {
                    h.start_at(id, 100 * iter + j);
                }
            }
            h.one(iter, 1, true);
        }
        h.sim().net.cfg = super::NetConfig::reliable();
        h.one(100, 5, true);
    });
}

#[test]
fn reliable_churn() {
    seeds("reliable_churn", 1, 2, |h| churn(h, false));
}

#[test]
fn unreliable_churn() {
    seeds("unreliable_churn", 1, 2, |h| churn(h, true));
}

fn churn(h: &mut H, unreliable: bool) {
    h.start_cluster(5, unreliable);
    let mut started = Vec::new();
    for _ in 0..20 {
        // Clients: each tries every node; keeps what a leader accepted.
        for _ in 0..3 {
            let v = h.rand_value();
            for id in h.ids() {
                if h.start_at(id, v).is_some() {
                    started.push(v);
                    break;
                }
            }
        }
        let ids = h.ids();
        let r = h.sim().rng().random_range(0..1000);
        let victim = ids[h.sim().rng().random_range(0..ids.len())];
        if r < 200 {
            h.disconnect(victim);
        } else if r < 500 && h.ids().iter().filter(|i| h.sim().is_up(**i)).count() > 3 {
            h.crash(victim);
        } else if r < 800 {
            h.restart(victim);
            h.connect(victim);
        }
        let ms = h.sim().rng().random_range(0..700);
        h.run_ms(ms);
    }
    for id in h.ids() {
        h.restart(id);
        h.connect(id);
    }
    h.sim().net.cfg = super::NetConfig::reliable();
    let last = h.one_rand(5);
    // Every value committed anywhere is committed the same everywhere (checked by the
    // safety invariant); and the log keeps growing.
    h.assert(last.0 > 1, "nothing committed".into());
}

#[test]
fn snapshot_basic() {
    seeds("snapshot_basic", 1, 3, |h| {
        h.start_cluster_with(3, false, 2_000);
        for i in 0..200u64 {
            h.one(1000 + i, 3, true);
        }
        for id in h.ids() {
            let snap = h.sim().service(id).map_or(0, |s| s.core().snapshot_index().0);
            h.assert(snap > 0, format!("{id} never took a snapshot"));
        }
    });
}

fn snapshot_install_body(h: &mut H, unreliable: bool, crash: bool) {
    h.start_cluster_with(3, unreliable, 2_000);
    h.one_rand(3);
    let l = h.check_one_leader();
    let mut victim = h.other(l, 1);
    for round in 0..6 {
        if crash {
            h.crash(victim);
        } else {
            h.disconnect(victim);
        }
        for _ in 0..40 {
            let v = h.rand_value();
            h.one(v, 2, true);
        }
        if crash {
            h.restart(victim);
        } else {
            h.connect(victim);
        }
        let v = h.rand_value();
        h.one(v, 3, true);
        let _ = round;
        let l = h.check_one_leader();
        victim = h.other(l, 1 + round % 2);
    }
    if unreliable {
        h.sim().net.cfg = super::NetConfig::reliable();
    }
    h.one_rand(3);
    let installed = h.snapshots_installed();
    h.assert(installed > 0, "no follower ever installed a snapshot from the leader".into());
}

#[test]
fn snapshot_install() {
    seeds("snapshot_install", 1, 2, |h| snapshot_install_body(h, false, false));
}

#[test]
fn snapshot_install_unreliable() {
    seeds("snapshot_install_unreliable", 1, 2, |h| snapshot_install_body(h, true, false));
}

#[test]
fn snapshot_install_crash() {
    seeds("snapshot_install_crash", 1, 2, |h| snapshot_install_body(h, false, true));
}

/// The Figure 8 sequence on 3 nodes, driven step by step. Returns whether the simulator
/// saw two nodes apply different entries at one index.
fn figure8_sequence(h: &mut H) -> bool {
    h.one_rand(3);
    let l1 = h.check_one_leader();
    // 1. The leader, cut off, appends x (its term) that nobody else gets.
    h.disconnect(l1);
    h.start_at(l1, 777);
    // 2. Another node wins a later term, is cut off at once, and appends y.
    let l2 = h.check_one_leader();
    h.disconnect(l2);
    h.start_at(l2, 888);
    // 3. The first leader comes back and wins a third term with the remaining node.
    h.connect(l1);
    for _ in 0..20 {
        h.run_ms(200);
        let top = h.sim().max_committed();
        if h.sim().leader() == Some(l1) && h.n_committed(top).0 > 0 {
            break;
        }
    }
    h.run_ms(300);
    // 4. It is cut off; the second leader comes back with its later-term entry.
    h.disconnect(l1);
    h.connect(l2);
    h.run_ms(3000);
    !h.sim().violations().is_empty()
}

#[test]
fn figure8_sequence_is_safe() {
    seeds("figure8_sequence_is_safe", 1, 3, |h| {
        h.start_cluster(3, false);
        let broken = figure8_sequence(h);
        h.assert(!broken, "the Figure 8 sequence broke state machine safety".into());
    });
}

#[test]
fn bug_commit_old_term_breaks_the_figure8_sequence() {
    let mut caught = None;
    for seed in 1..6 {
        let mut h = H::new("bug_commit_old_term_breaks_the_figure8_sequence", seed);
        h.start_cluster_bug(3, Some(crate::raft::types::UnsafeBug::CommitOldTerm));
        if figure8_sequence(&mut h) {
            caught = Some(seed);
            break;
        }
    }
    assert!(caught.is_some(), "commit-old-term went unnoticed in the Figure 8 sequence");
}
