//! The 6.824 lab 4B scenarios in the simulator: a controller group and three replica groups
//! under clients, reconfigurations and faults. Every history is checked per key with
//! `faultline_checker`; the planted sharding bugs must be caught within the CI seeds.

use super::shard_admin::Admin;
use super::shard_clients::{ClientConfig, Clients};
use super::shard_cluster::{ShardSim, ShardSimConfig};
use super::workload::WorkloadRun;
use crate::raft::types::{NodeId, UnsafeBug};
use crate::shard::{key_shard, CtrlOp, Gid, ShardState};
use faultline_api::EventName;
use faultline_checker::Verdict;
use rand::Rng;

const G: [Gid; 3] = [Gid(100), Gid(101), Gid(102)];

fn verdict(run: &WorkloadRun) -> Verdict {
    super::kv_test::kv_verdict(&run.history)
}

/// Asserts a run is linearizable, did something, and broke no Raft invariant.
fn assert_ok(name: &str, seed: u64, sim: &ShardSim, run: &WorkloadRun, min_ok: usize) {
    let repro = super::repro(name, seed);
    let v = sim.violations();
    assert!(v.is_empty(), "{name}: safety violations {v:?}\n{repro}");
    assert!(run.ok >= min_ok, "{name}: only {} operations succeeded\n{repro}", run.ok);
    let verdict = verdict(run);
    if verdict != Verdict::Linearizable {
        let path = std::env::temp_dir().join(format!("faultline-{name}-{seed}.jsonl"));
        let _ = std::fs::write(&path, &run.history);
        panic!("{name}: verdict {verdict:?} (history in {})\n{repro}", path.display());
    }
}

fn join(gids: &[Gid], sim: &ShardSim) -> CtrlOp {
    CtrlOp::Join(gids.iter().map(|g| (*g, sim.config().servers(*g))).collect())
}

/// A sharded KV where `gids` have joined (clients running meanwhile), after `warm_us`
/// more of clients.
fn started(
    cfg: ShardSimConfig,
    cc: ClientConfig,
    gids: &[Gid],
    warm_us: u64,
) -> (ShardSim, Clients, Admin) {
    let mut sim = ShardSim::new(cfg);
    let mut clients = Clients::new(cc);
    let mut admin = Admin::default();
    let op = join(gids, &sim);
    assert!(admin.run(&mut sim, &mut clients, op, true, 3_000_000), "the first join is answered");
    clients.run(&mut sim, warm_us, true, None);
    (sim, clients, admin)
}

/// The state of group `gid` as its leader (or any up node) has applied it.
fn group_state(sim: &ShardSim, gid: Gid) -> Option<&crate::shard::Group> {
    let c = &sim.groups[&gid];
    let up: Vec<NodeId> = c.ids().into_iter().filter(|n| c.is_up(*n)).collect();
    let id = c.leader().or(up.first().copied())?;
    c.service(id).map(|s| s.kv())
}

/// Runs without clients until every group reached the admin's latest config with every
/// shard settled and holds exactly the shards it owns (moved shards deleted); returns what
/// is still wrong when `max_us` passed.
fn settle(sim: &mut ShardSim, clients: &mut Clients, admin: &Admin, max_us: u64) -> Vec<String> {
    let until = sim.now() + max_us;
    loop {
        let mut wrong = Vec::new();
        for gid in G {
            let Some(g) = group_state(sim, gid) else {
                wrong.push(format!("{gid}: no node up"));
                continue;
            };
            let held: Vec<usize> = g.shards().keys().copied().collect();
            let owned = admin.latest.shards_of(gid);
            if g.current().num != admin.latest.num || !g.is_settled() || held != owned {
                wrong.push(format!(
                    "{gid}: config {} (latest {}), holds {held:?}, owns {owned:?}, settled {}",
                    g.current().num,
                    admin.latest.num,
                    g.is_settled()
                ));
            }
        }
        if wrong.is_empty() || sim.now() >= until {
            return wrong;
        }
        clients.run(sim, 50_000, false, None);
    }
}

/// How a random run breaks things.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Virtual time of the client phase.
    duration_us: u64,
    /// Mean time between reconfigurations (0: none after the first join).
    change_us: u64,
    /// Crash and restart group nodes.
    crashes: bool,
    /// Cut whole groups off for a while.
    cutoffs: bool,
    /// Reconfigurations issued back to back each time (groups see several new configs at
    /// their next poll).
    burst: u32,
}

const PLAN: Plan =
    Plan { duration_us: 5_000_000, change_us: 400_000, crashes: false, cutoffs: false, burst: 1 };

/// Clients on every key while the admin reconfigures at random and the plan's faults run;
/// then everything heals and must settle.
fn random_run(
    cfg: ShardSimConfig,
    plan: Plan,
    clients: ClientConfig,
) -> (ShardSim, Admin, WorkloadRun, Vec<String>) {
    let mut sim = ShardSim::new(cfg);
    let mut clients = Clients::new(clients);
    let mut admin = Admin::default();
    let first = join(&G[..1], &sim);
    admin.run(&mut sim, &mut clients, first, false, 3_000_000);
    let end = sim.now() + plan.duration_us;
    let mut next_change = sim.now();
    let mut burst = 0;
    let mut next_fault = sim.now() + 300_000;
    let mut crashed: Vec<(Gid, NodeId, u64)> = Vec::new();
    let mut cut: Option<(Gid, u64)> = None;
    while sim.now() < end {
        clients.run(&mut sim, 5_000, true, None);
        admin.poll(&mut sim, &mut clients);
        let now = sim.now();
        if plan.change_us > 0 && admin.is_idle() && (now >= next_change || burst > 0) {
            let op = admin.random_change(&mut sim, &G);
            admin.start(&mut sim, op);
            burst = if burst == 0 { plan.burst.max(1) - 1 } else { burst - 1 };
            next_change = now + sim.rng().random_range(plan.change_us / 2..=plan.change_us * 3 / 2);
        }
        crashed.retain(|(gid, id, at)| {
            if now >= *at {
                sim.restart(*gid, *id);
                let nodes = serde_json::json!({"nodes": [format!("g{}/{id}", gid.0)]});
                clients.nemesis(EventName::Start, nodes, now);
                false
            } else {
                true
            }
        });
        if cut.is_some_and(|(_, at)| now >= at) {
            let (gid, _) = cut.take().expect("checked");
            sim.reconnect(gid);
            clients.nemesis(EventName::StopPartition, serde_json::json!({"gid": gid.0}), now);
        }
        if now >= next_fault {
            next_fault = now + sim.rng().random_range(200_000..600_000);
            let gid = G[sim.rng().random_range(0..G.len())];
            if plan.crashes && crashed.is_empty() && sim.rng().random_bool(0.7) {
                let nodes = sim.config().cluster.nodes as u64;
                let id = NodeId(sim.rng().random_range(1..=nodes));
                let back = now + sim.rng().random_range(100_000..800_000);
                sim.crash(gid, id);
                let nodes = serde_json::json!({"nodes": [format!("g{}/{id}", gid.0)]});
                clients.nemesis(EventName::Kill, nodes, now);
                crashed.push((gid, id, back));
            } else if plan.cutoffs && cut.is_none() {
                sim.cut_off(gid);
                // The group cut off from every other node (a partition).
                clients.nemesis(EventName::StartPartition, serde_json::json!({"gid": gid.0}), now);
                cut = Some((gid, now + sim.rng().random_range(200_000..1_000_000)));
            }
        }
    }
    for (gid, id, _) in crashed {
        sim.restart(gid, id);
    }
    if let Some((gid, _)) = cut {
        sim.reconnect(gid);
    }
    while !admin.is_idle() {
        clients.run(&mut sim, 5_000, false, None);
        admin.poll(&mut sim, &mut clients);
    }
    clients.drain(&mut sim, 6_000_000);
    let stuck = settle(&mut sim, &mut clients, &admin, 8_000_000);
    let run = clients.finish(&mut sim);
    (sim, admin, run, stuck)
}

/// Runs `seeds` random runs and asserts each is linearizable and settles.
fn random_runs(
    name: &str,
    seeds: u64,
    cfg: impl Fn(u64) -> ShardSimConfig,
    plan: Plan,
    min_ok: usize,
) {
    for seed in super::seeds_from_env(1, seeds) {
        let (sim, admin, run, stuck) = random_run(cfg(seed), plan, ClientConfig::default());
        eprintln!(
            "{name} seed {seed}: ok {} fail {} info {}, config {}",
            run.ok, run.fail, run.info, admin.latest.num
        );
        assert_ok(name, seed, &sim, &run, min_ok);
        assert!(
            stuck.is_empty(),
            "{name}: did not settle: {stuck:?}\n{}",
            super::repro(name, seed)
        );
    }
}

#[test]
fn static_shards_only_the_down_groups_shards_stop() {
    let seed = super::seed_from_env(1);
    let cc = ClientConfig {
        clients: 20,
        keys: 30,
        attempt_timeout_us: 200_000,
        op_timeout_us: 500_000,
        ..ClientConfig::default()
    };
    let (mut sim, mut clients, admin) = started(ShardSimConfig::new(seed), cc, &G, 2_000_000);
    sim.crash_group(G[1]);
    let t0 = sim.now() + 10_000;
    clients.run(&mut sim, 3_000_000, true, None);
    let t1 = sim.now();
    let (mut down, mut up) = (0, 0);
    for key in clients.keys() {
        let ok = clients.ok_between(&key, t0, t1);
        if admin.latest.owner(key_shard(&key, 10)) == G[1] {
            assert_eq!(ok, 0, "{key} is on the down group yet was served");
            down += 1;
        } else {
            up += usize::from(ok > 0);
        }
    }
    assert!(down > 0, "some key lives on the down group");
    assert_eq!(up, 30 - down, "every key of the live groups kept being served");
    sim.restart_group(G[1]);
    let t2 = sim.now() + 1_500_000;
    clients.run(&mut sim, 3_000_000, true, None);
    for key in clients.keys() {
        assert!(clients.ok_between(&key, t2, sim.now()) > 0, "{key} served after the restart");
    }
    clients.drain(&mut sim, 3_000_000);
    let run = clients.finish(&mut sim);
    assert_ok("static_shards_only_the_down_groups_shards_stop", seed, &sim, &run, 50);
}

#[test]
fn join_then_leave_moves_everything_and_deletes_what_left() {
    let seed = super::seed_from_env(1);
    let mut sim = ShardSim::new(ShardSimConfig::new(seed));
    let mut clients = Clients::new(ClientConfig::default());
    let mut admin = Admin::default();
    let steps = [
        join(&G[..1], &sim),
        join(&G[1..2], &sim),
        join(&G[2..], &sim),
        CtrlOp::Leave(vec![G[0]]),
        CtrlOp::Leave(vec![G[1]]),
    ];
    for op in steps {
        assert!(admin.run(&mut sim, &mut clients, op, true, 3_000_000));
        clients.run(&mut sim, 1_000_000, true, None);
    }
    clients.drain(&mut sim, 4_000_000);
    let stuck = settle(&mut sim, &mut clients, &admin, 5_000_000);
    assert!(stuck.is_empty(), "{stuck:?}");
    assert_eq!(admin.latest.shards_of(G[2]).len(), 10);
    for gid in &G[..2] {
        let held = group_state(&sim, *gid).map(|g| g.shards().len());
        assert_eq!(held, Some(0), "{gid} left and deleted its shards");
    }
    let run = clients.finish(&mut sim);
    assert_ok("join_then_leave_moves_everything_and_deletes_what_left", seed, &sim, &run, 100);
}

#[test]
fn snapshots_carry_shards_states_and_sessions() {
    let name = "snapshots_carry_shards_states_and_sessions";
    let plan = Plan { crashes: true, ..PLAN };
    for seed in super::seeds_from_env(1, 10) {
        let (sim, _, run, stuck) =
            random_run(ShardSimConfig::new(seed).snapshots(3_000), plan, ClientConfig::default());
        assert_ok(name, seed, &sim, &run, 100);
        assert!(stuck.is_empty(), "{name}: {stuck:?}\n{}", super::repro(name, seed));
        let snapshots: u64 = G.iter().map(|g| sim.groups[g].stats().snapshots_installed).sum();
        let compacted = G.iter().any(|g| {
            let c = &sim.groups[g];
            c.ids().iter().any(|n| c.service(*n).is_some_and(|s| s.core().snapshot_index().0 > 0))
        });
        assert!(compacted, "{name}: no group compacted its log\n{}", super::repro(name, seed));
        eprintln!("{name} seed {seed}: {snapshots} snapshots installed by followers");
    }
}

#[test]
fn a_group_cut_off_misses_config_changes_then_catches_up() {
    let seed = super::seed_from_env(1);
    let (mut sim, mut clients, mut admin) =
        started(ShardSimConfig::new(seed), ClientConfig::default(), &G, 1_000_000);
    sim.cut_off(G[2]);
    let behind = group_state(&sim, G[2]).map(|g| g.current().num);
    for op in [
        CtrlOp::Leave(vec![G[0]]),
        join(&G[..1], &sim),
        CtrlOp::Leave(vec![G[1]]),
        join(&G[1..2], &sim),
    ] {
        assert!(admin.run(&mut sim, &mut clients, op, true, 3_000_000));
        clients.run(&mut sim, 500_000, true, None);
    }
    assert_eq!(group_state(&sim, G[2]).map(|g| g.current().num), behind, "cut off: no change seen");
    sim.reconnect(G[2]);
    clients.run(&mut sim, 3_000_000, true, None);
    clients.drain(&mut sim, 4_000_000);
    let stuck = settle(&mut sim, &mut clients, &admin, 5_000_000);
    assert!(stuck.is_empty(), "{stuck:?}");
    let run = clients.finish(&mut sim);
    assert_ok("a_group_cut_off_misses_config_changes_then_catches_up", seed, &sim, &run, 100);
}

#[test]
fn concurrent_clients_during_join_and_leave() {
    random_runs("concurrent_clients_during_join_and_leave", 100, ShardSimConfig::new, PLAN, 100);
}

#[test]
fn concurrent_clients_with_crashes_and_cut_off_groups() {
    let plan = Plan { crashes: true, cutoffs: true, ..PLAN };
    random_runs(
        "concurrent_clients_with_crashes_and_cut_off_groups",
        60,
        ShardSimConfig::new,
        plan,
        50,
    );
}

#[test]
fn concurrent_clients_unreliable_network() {
    let cfg = |s| ShardSimConfig::new(s).unreliable();
    random_runs("concurrent_clients_unreliable_network", 40, cfg, PLAN, 50);
}

#[test]
fn moved_shards_are_deleted_memory_stays_bounded() {
    let seed = super::seed_from_env(1);
    let (mut sim, mut clients, mut admin) =
        started(ShardSimConfig::new(seed), ClientConfig::default(), &G, 0);
    for round in 0..12 {
        let op = CtrlOp::Move { shard: round % 10, gid: G[round % 3] };
        assert!(admin.run(&mut sim, &mut clients, op, true, 3_000_000));
        clients.run(&mut sim, 300_000, true, None);
    }
    clients.drain(&mut sim, 4_000_000);
    let stuck = settle(&mut sim, &mut clients, &admin, 5_000_000);
    assert!(stuck.is_empty(), "{stuck:?}");
    let held: usize =
        G.iter().filter_map(|g| group_state(&sim, *g)).map(|g| g.shards().len()).sum();
    assert_eq!(held, 10, "each shard is held by one group only");
    let run = clients.finish(&mut sim);
    assert_ok("moved_shards_are_deleted_memory_stays_bounded", seed, &sim, &run, 100);
}

/// Keys whose shard `gid` owns in `cfg`.
fn keys_of(clients: &Clients, cfg: &crate::shard::ShardConfig, gid: Gid) -> Vec<String> {
    clients.keys().into_iter().filter(|k| cfg.key_owner(k) == gid).collect()
}

#[test]
fn unaffected_shards_keep_serving_while_a_change_is_stuck() {
    let seed = super::seed_from_env(1);
    let cc = ClientConfig { keys: 30, ..ClientConfig::default() };
    let (mut sim, mut clients, mut admin) =
        started(ShardSimConfig::new(seed), cc, &G[..2], 1_000_000);
    let mine = keys_of(&clients, &admin.latest, G[1]);
    // Group 100 dies, then leaves: 101 must pull 100's shards and cannot.
    sim.crash_group(G[0]);
    assert!(admin.run(&mut sim, &mut clients, CtrlOp::Leave(vec![G[0]]), false, 3_000_000));
    clients.drain(&mut sim, 3_000_000);
    let t0 = sim.now() + 300_000;
    clients.run(&mut sim, 2_000_000, true, Some(&mine));
    let g = group_state(&sim, G[1]).expect("101 is up");
    assert_eq!(g.current().num, admin.latest.num);
    assert!(!g.shards_in(ShardState::Pulling).is_empty(), "the change is stuck");
    for k in &mine {
        assert!(clients.ok_between(k, t0, sim.now()) > 0, "{k} (unaffected) kept serving");
    }
    clients.drain(&mut sim, 3_000_000);
    let run = clients.finish(&mut sim);
    assert_ok("unaffected_shards_keep_serving_while_a_change_is_stuck", seed, &sim, &run, 50);
}

#[test]
fn arrived_shards_are_served_before_the_change_completes() {
    let seed = super::seed_from_env(1);
    let cc = ClientConfig { keys: 30, ..ClientConfig::default() };
    let (mut sim, mut clients, mut admin) = started(ShardSimConfig::new(seed), cc, &G, 1_000_000);
    let from_102 = keys_of(&clients, &admin.latest, G[2]);
    // 100 dies; 100 and 102 leave together: 101 gets 102's shards but not 100's.
    sim.crash_group(G[0]);
    let leave = CtrlOp::Leave(vec![G[0], G[2]]);
    assert!(admin.run(&mut sim, &mut clients, leave, false, 3_000_000));
    clients.drain(&mut sim, 3_000_000);
    let t0 = sim.now() + 1_000_000;
    clients.run(&mut sim, 3_000_000, true, Some(&from_102));
    let g = group_state(&sim, G[1]).expect("101 is up");
    assert!(!g.shards_in(ShardState::Pulling).is_empty(), "100's shards cannot arrive");
    for k in &from_102 {
        assert!(clients.ok_between(k, t0, sim.now()) > 0, "{k} arrived from 102 and is served");
    }
    clients.drain(&mut sim, 3_000_000);
    let run = clients.finish(&mut sim);
    assert_ok("arrived_shards_are_served_before_the_change_completes", seed, &sim, &run, 50);
}

/// Asserts that some seed of `seeds` gives a non-linearizable history (or, with
/// `liveness`, a system that never settles once healed). With `FAULTLINE_CATCH_RATE=N` it
/// runs seeds 1..=N and prints how many caught the bug.
fn caught(
    name: &str,
    seeds: std::ops::Range<u64>,
    bug: UnsafeBug,
    cfg: impl Fn(u64) -> ShardSimConfig,
    plan: Plan,
    liveness: bool,
) {
    let rate: Option<u64> = std::env::var("FAULTLINE_CATCH_RATE").ok().and_then(|n| n.parse().ok());
    let seeds = rate.map_or(seeds, |n| 1..n + 1);
    let (mut hits, mut illegal_hits) = (0, 0);
    for seed in seeds.clone() {
        let (sim, _, run, stuck) =
            random_run(cfg(seed).bug(Some(bug)), plan, ClientConfig::default());
        let illegal = verdict(&run) == Verdict::Illegal || !sim.violations().is_empty();
        if illegal || (liveness && !stuck.is_empty()) {
            eprintln!(
                "{name}: caught on seed {seed} (not linearizable: {illegal}, stuck: {stuck:?})"
            );
            hits += 1;
            illegal_hits += usize::from(illegal);
            if rate.is_none() {
                return;
            }
        }
    }
    let n = seeds.end - seeds.start;
    eprintln!("{name}: caught on {hits} of {n} seeds ({illegal_hits} not linearizable)");
    assert!(hits > 0, "{name}: the bug went unnoticed on seeds {seeds:?}");
}

const BUG_PLAN: Plan =
    Plan { duration_us: 4_000_000, change_us: 250_000, crashes: false, cutoffs: false, burst: 1 };

/// Skipping needs a group that falls behind: several changes between two polls.
const SKIP_PLAN: Plan = Plan { burst: 3, change_us: 400_000, ..BUG_PLAN };

#[test]
fn bug_shard_serve_early_is_caught() {
    caught(
        "bug_shard_serve_early_is_caught",
        1..11,
        UnsafeBug::ShardServeEarly,
        ShardSimConfig::new,
        BUG_PLAN,
        false,
    );
}

#[test]
fn bug_shard_serve_late_is_caught() {
    caught(
        "bug_shard_serve_late_is_caught",
        1..11,
        UnsafeBug::ShardServeLate,
        ShardSimConfig::new,
        BUG_PLAN,
        false,
    );
}

#[test]
fn bug_shard_no_dedup_transfer_is_caught() {
    let cfg = |s| ShardSimConfig::new(s).unreliable();
    caught(
        "bug_shard_no_dedup_transfer_is_caught",
        1..21,
        UnsafeBug::ShardNoDedupTransfer,
        cfg,
        BUG_PLAN,
        false,
    );
}

#[test]
fn bug_config_skip_is_caught() {
    // Its usual symptom is a stall: a group that jumped cannot hand over what it skipped.
    caught(
        "bug_config_skip_is_caught",
        1..11,
        UnsafeBug::ConfigSkip,
        ShardSimConfig::new,
        SKIP_PLAN,
        true,
    );
}

/// The correct system passes the plans that catch the bugs, on the same seeds.
#[test]
fn the_bug_plans_pass_without_bugs() {
    let name = "the_bug_plans_pass_without_bugs";
    random_runs(name, 10, ShardSimConfig::new, BUG_PLAN, 100);
    random_runs(name, 20, |s| ShardSimConfig::new(s).unreliable(), BUG_PLAN, 50);
    random_runs(name, 10, ShardSimConfig::new, SKIP_PLAN, 100);
}

/// Every replica of both groups is killed in the middle of a move and restarted from its
/// snapshot and log: the move finishes and nothing acknowledged is lost.
#[test]
fn replicas_restarted_mid_migration_finish_it() {
    let name = "replicas_restarted_mid_migration_finish_it";
    for seed in super::seeds_from_env(1, 10) {
        let cfg = ShardSimConfig::new(seed).snapshots(2_000);
        let (mut sim, mut clients, mut admin) =
            started(cfg, ClientConfig::default(), &G[..2], 1_500_000);
        assert!(admin.run(&mut sim, &mut clients, CtrlOp::Leave(vec![G[1]]), true, 3_000_000));
        let unsettled = |sim: &ShardSim| group_state(sim, G[0]).is_some_and(|g| !g.is_settled());
        while !unsettled(&sim) {
            clients.run(&mut sim, 1_000, true, None);
        }
        let mid = sim.rng().random_range(0..80) * 1_000;
        clients.run(&mut sim, mid, true, None);
        let states = group_state(&sim, G[0]).map(|g| {
            let s = |st| g.shards_in(st).len();
            (s(ShardState::Pulling), s(ShardState::GcPending))
        });
        sim.crash_group(G[0]);
        sim.crash_group(G[1]);
        clients.run(&mut sim, 300_000, true, None);
        sim.restart_group(G[0]);
        sim.restart_group(G[1]);
        clients.run(&mut sim, 2_000_000, true, None);
        clients.drain(&mut sim, 4_000_000);
        let stuck = settle(&mut sim, &mut clients, &admin, 5_000_000);
        assert!(stuck.is_empty(), "{name}: {stuck:?}\n{}", super::repro(name, seed));
        eprintln!("{name} seed {seed}: killed with (pulling, gc-pending) shards {states:?}");
        let run = clients.finish(&mut sim);
        assert_ok(name, seed, &sim, &run, 50);
    }
}
