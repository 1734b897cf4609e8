//! Per-node process control (kill, start, stop, pause, resume, wipe) and per-node faults
//! (clock, packet loss). Each returns an [`FaultOutcome`]: `Skipped` when the action cannot
//! apply (e.g. killing a node that is down), so the history says exactly what happened.
#![allow(clippy::disallowed_methods)] // real processes and real waiting: this is an I/O module

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use super::Cluster;
use crate::sync::lock;
use crate::{Error, FaultOutcome};

impl Cluster {
    /// SIGKILLs a node (its data dir is kept).
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or the signal could not be sent.
    pub fn kill(&self, node: &str) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        let mut procs = lock(&self.shared.procs);
        if !procs[i].is_running() {
            return Ok(FaultOutcome::Skipped(format!("{node} is not running")));
        }
        procs[i].kill(node)?;
        drop(procs);
        self.shared.set_pid(i, None);
        // A restarted node starts with a normal clock.
        lock(&self.clocks)[i] = (0, 1.0);
        Ok(FaultOutcome::Installed)
    }

    /// Cuts the power of `nodes` together: SIGKILLs each running one, then throws away
    /// what its disk holds that was not fsynced (`crate::powerfs::Disk::power_loss`, seeded
    /// by `seed` + the node's place in `nodes`). Skipped for a node already down, and for
    /// every node of a cluster started without power-loss disks.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], a signal that could not be sent, a failed rollback or remount.
    pub fn power_loss(
        &self,
        nodes: &[String],
        seed: u64,
    ) -> Result<(FaultOutcome, crate::powerfs::Dropped), Error> {
        let mut total = crate::powerfs::Dropped::default();
        if !self.spec.power_loss {
            let why = "the cluster was started without power-loss disks".to_string();
            return Ok((FaultOutcome::Skipped(why), total));
        }
        let mut outs = Vec::new();
        for node in nodes {
            outs.push(self.kill(node)?);
        }
        for (k, (node, out)) in nodes.iter().zip(&outs).enumerate() {
            if *out != FaultOutcome::Installed {
                continue;
            }
            let i = self.index(node)?;
            let mut disks = lock(&self.shared.disks);
            if let Some(disk) = disks[i].as_mut() {
                let d = disk.power_loss(seed.wrapping_add(k as u64))?;
                tracing::info!(
                    node,
                    changes = d.changes,
                    bytes = d.bytes,
                    torn = d.torn,
                    "power loss"
                );
                total.add(d);
            }
        }
        Ok((FaultOutcome::combine(outs), total))
    }

    /// Waits, up to `limit`, until one of `nodes`' power-loss disks holds writes that were
    /// not fsynced yet, so that a power cut then has something to lose (a cut while
    /// everything is synced exercises nothing). Returns how long it waited, or `None` when
    /// no disk had any in time (or the cluster has no power-loss disks).
    pub async fn await_unsynced(&self, nodes: &[String], limit: Duration) -> Option<Duration> {
        if !self.spec.power_loss {
            return None;
        }
        let idx: Vec<usize> = nodes.iter().filter_map(|n| self.index(n).ok()).collect();
        let start = Instant::now();
        loop {
            let pending = {
                let disks = lock(&self.shared.disks);
                idx.iter().any(|&i| disks[i].as_ref().is_some_and(|d| d.pending() > 0))
            };
            if pending {
                return Some(start.elapsed());
            }
            if start.elapsed() >= limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Starts a node that is down (after a kill, a stop, or a crash), keeping its data.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or the process could not be spawned.
    pub fn start_node(&self, node: &str) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        if lock(&self.shared.procs)[i].is_running() {
            return Ok(FaultOutcome::Skipped(format!("{node} is already running")));
        }
        if self.is_removed(node) {
            // Only the membership fault brings it back, as a newcomer.
            return Ok(FaultOutcome::Skipped(format!("{node} is removed from the cluster")));
        }
        self.spawn(i)?;
        Ok(FaultOutcome::Installed)
    }

    /// Stops a node gracefully: SIGCONT, SIGTERM, then SIGKILL after 5 seconds.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or a signal could not be sent.
    pub async fn stop(&self, node: &str) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        self.stop_index(i, Duration::from_secs(5)).await
    }

    pub(super) async fn stop_index(
        &self,
        i: usize,
        grace: Duration,
    ) -> Result<FaultOutcome, Error> {
        let name = self.nodes[i].name.clone();
        {
            let mut procs = lock(&self.shared.procs);
            if !procs[i].is_running() {
                return Ok(FaultOutcome::Skipped(format!("{name} is not running")));
            }
            procs[i].signal(&name, Signal::SIGCONT)?;
            procs[i].paused = false;
            procs[i].signal(&name, Signal::SIGTERM)?;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !lock(&self.shared.procs)[i].is_running() {
                self.shared.set_pid(i, None);
                return Ok(FaultOutcome::Installed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!(node = name, "did not exit {grace:?} after SIGTERM; killing");
        lock(&self.shared.procs)[i].kill(&name)?;
        self.shared.set_pid(i, None);
        Ok(FaultOutcome::Installed)
    }

    /// SIGSTOPs a node.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or the signal could not be sent.
    pub fn pause(&self, node: &str) -> Result<FaultOutcome, Error> {
        self.stop_cont(node, true)
    }

    /// SIGCONTs a paused node.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], or the signal could not be sent.
    pub fn resume(&self, node: &str) -> Result<FaultOutcome, Error> {
        self.stop_cont(node, false)
    }

    fn stop_cont(&self, node: &str, pause: bool) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        let mut procs = lock(&self.shared.procs);
        if !procs[i].is_running() {
            return Ok(FaultOutcome::Skipped(format!("{node} is not running")));
        }
        if procs[i].paused == pause {
            let state = if pause { "already paused" } else { "not paused" };
            return Ok(FaultOutcome::Skipped(format!("{node} is {state}")));
        }
        procs[i].signal(node, if pause { Signal::SIGSTOP } else { Signal::SIGCONT })?;
        procs[i].paused = pause;
        Ok(FaultOutcome::Installed)
    }

    /// Deletes a stopped node's data dir (Jepsen's `wipe`).
    ///
    /// # Errors
    /// [`Error::UnknownNode`]; [`Error::Spec`] when the node is running; I/O errors.
    pub fn wipe(&self, node: &str) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        if lock(&self.shared.procs)[i].is_running() {
            return Err(Error::Spec(format!("wipe: {node} is running; stop it first")));
        }
        self.shared.host.wipe(&self.nodes[i])?;
        Ok(FaultOutcome::Installed)
    }

    /// Whether a node's process is running (paused counts as running).
    pub fn is_running(&self, node: &str) -> bool {
        self.index(node).is_ok_and(|i| lock(&self.shared.procs)[i].is_running())
    }

    /// Whether a node is paused.
    pub fn is_paused(&self, node: &str) -> bool {
        self.index(node).is_ok_and(|i| lock(&self.shared.procs)[i].paused)
    }

    /// The pid of a node's process, while it runs.
    pub fn pid(&self, node: &str) -> Option<u32> {
        let i = self.index(node).ok()?;
        lock(&self.shared.procs)[i].pid()
    }

    /// Sets a node's clock: `offset_ms` added to its clock, `rate` times real speed.
    /// Skipped for systems the clock cannot reach (etcd) and for nodes that are down.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    pub async fn set_clock(
        &self,
        node: &str,
        offset_ms: i64,
        rate: f64,
    ) -> Result<FaultOutcome, Error> {
        let i = self.index(node)?;
        if !self.is_running(node) {
            return Ok(FaultOutcome::Skipped(format!("{node} is not running")));
        }
        if self.is_paused(node) {
            return Ok(FaultOutcome::Skipped(format!("{node} is paused")));
        }
        let out = self.system.set_clock(&self.http, &self.nodes[i], offset_ms, rate).await;
        if !matches!(out, FaultOutcome::Skipped(_)) {
            lock(&self.clocks)[i] = (offset_ms, rate);
        }
        Ok(out)
    }

    /// A node's clock as last set (offset ms, rate).
    pub fn clock(&self, node: &str) -> Option<(i64, f64)> {
        let i = self.index(node).ok()?;
        Some(lock(&self.clocks)[i])
    }

    /// Drops each node-to-node packet with probability `p` (0 stops it). Skipped where
    /// the network cannot (the local backend's proxies carry TCP streams, not packets).
    ///
    /// # Errors
    /// The network's rules could not be installed (an iptables command failed).
    pub fn set_loss(&self, p: f64) -> Result<FaultOutcome, Error> {
        let out = self.shared.network.set_loss(p)?;
        if !matches!(out, FaultOutcome::Skipped(_)) {
            *lock(&self.loss) = p;
        }
        Ok(out)
    }

    /// Holds node-to-node traffic for `delay` (zero removes it). Bytes in flight when a link
    /// is cut are dropped with it. Skipped where the network cannot (netns).
    ///
    /// # Errors
    /// The network's rules could not be installed.
    pub fn set_delay(&self, delay: Duration) -> Result<FaultOutcome, Error> {
        self.shared.network.set_delay(delay)
    }

    /// Delivers each node-to-node message twice with probability `p` (0 stops it).
    /// Skipped where the network carries streams.
    ///
    /// # Errors
    /// The network's rules could not be installed.
    pub fn set_duplicate(&self, p: f64) -> Result<FaultOutcome, Error> {
        self.shared.network.set_duplicate(p)
    }

    /// The current packet loss probability.
    pub fn loss(&self) -> f64 {
        *lock(&self.loss)
    }
}
