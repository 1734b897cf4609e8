//! Everything a run owns that must be removed at the end, and the synchronous cleanup that
//! removes it: on `shutdown`, on `Drop` (so also while a panic unwinds), and on Ctrl-C
//! through [`CleanupHandle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use nix::sys::signal::Signal;

use crate::netns::Netns;
use crate::powerfs::Disk;
use crate::process::Proc;
use crate::proxy::{Pids, Proxies};
use crate::state::Registry;

/// The run's resources, shared by the cluster and its cleanup handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub procs: Mutex<Vec<Proc>>,
    pub pids: Pids,
    pub registry: Mutex<Registry>,
    pub proxies: Mutex<Option<Proxies>>,
    pub netns: Option<Netns>,
    /// Each node's power-loss disk, when the run asked for power-loss.
    pub disks: Mutex<Vec<Option<Disk>>>,
    done: AtomicBool,
}

/// Locks a mutex, ignoring poison: a panic elsewhere must not stop cleanup.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub fn new(
        n: usize,
        pids: Pids,
        registry: Registry,
        proxies: Option<Proxies>,
        netns: Option<Netns>,
    ) -> Self {
        Shared {
            procs: Mutex::new((0..n).map(|_| Proc::default()).collect()),
            pids,
            registry: Mutex::new(registry),
            proxies: Mutex::new(proxies),
            netns,
            disks: Mutex::new((0..n).map(|_| None).collect()),
            done: AtomicBool::new(false),
        }
    }

    /// Records node `i`'s pid for the proxies and the registry.
    pub fn set_pid(&self, i: usize, pid: Option<u32>) {
        match pid {
            Some(p) => lock(&self.pids).insert(i, p),
            None => lock(&self.pids).remove(&i),
        };
        lock(&self.registry).set_pid(i, pid);
    }

    /// Kills every process, unmounts the power-loss disks, stops every proxy, deletes
    /// namespaces and the bridge, removes the registry entry. Idempotent and synchronous.
    pub fn cleanup(&self) {
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        let mut procs = lock(&self.procs);
        for (i, p) in procs.iter_mut().enumerate() {
            // A stopped process still dies on SIGKILL; SIGCONT first is belt and braces.
            let _ = p.signal("cleanup", Signal::SIGCONT);
            if let Err(e) = p.kill(&faultline_api::node_name(i)) {
                tracing::warn!("cleanup: {e}");
            }
        }
        drop(procs);
        // The nodes are dead: nothing uses the mounts any more.
        for disk in lock(&self.disks).iter_mut().filter_map(Option::take) {
            drop(disk);
        }
        if let Some(mut proxies) = lock(&self.proxies).take() {
            proxies.shutdown();
        }
        if let Some(net) = &self.netns {
            net.destroy();
        }
        lock(&self.registry).remove();
        tracing::debug!("cluster cleaned up");
    }

    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Last owner gone (e.g. `Cluster::start` cancelled half-way): remove what exists.
        self.cleanup();
    }
}

/// A handle that removes everything the cluster made, synchronously, from anywhere (e.g. a
/// Ctrl-C handler or another thread). Cloneable; cleanup runs once.
#[derive(Debug, Clone)]
pub struct CleanupHandle(pub(crate) Arc<Shared>);

impl CleanupHandle {
    /// Kills every node process, stops the proxies, deletes namespaces and rules.
    pub fn cleanup_now(&self) {
        self.0.cleanup();
    }
}
