//! Everything a run owns that must be removed at the end, and the synchronous cleanup that
//! removes it: on `shutdown`, on `Drop` (so also while a panic unwinds), and on Ctrl-C
//! through [`CleanupHandle`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nix::sys::signal::Signal;

use crate::host::Host;
use crate::network::Network;
use crate::powerfs::Disk;
use crate::process::Proc;
use crate::state::Registry;
use crate::sync::lock;

/// The run's resources, shared by the cluster and its cleanup handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub procs: Mutex<Vec<Proc>>,
    pub registry: Mutex<Registry>,
    /// Where the nodes run.
    pub host: Box<dyn Host>,
    /// What carries their peer traffic: the system's own network, or the host's.
    pub network: Arc<dyn Network>,
    /// Each node's power-loss disk, when the run asked for power-loss.
    pub disks: Mutex<Vec<Option<Disk>>>,
    done: AtomicBool,
}

impl Shared {
    pub fn new(
        n: usize,
        registry: Registry,
        host: Box<dyn Host>,
        network: Arc<dyn Network>,
    ) -> Self {
        Shared {
            procs: Mutex::new((0..n).map(|_| Proc::default()).collect()),
            registry: Mutex::new(registry),
            host,
            network,
            disks: Mutex::new((0..n).map(|_| None).collect()),
            done: AtomicBool::new(false),
        }
    }

    /// Records node `i`'s pid for the host (its proxies) and the registry.
    pub fn set_pid(&self, i: usize, pid: Option<u32>) {
        self.host.note_pid(i, pid);
        if self.host.local_pids() {
            lock(&self.registry).set_pid(i, pid);
        }
    }

    /// Kills every process, unmounts the power-loss disks, shuts the network down (proxies,
    /// a system's router), removes what the host made (namespaces, the bridge), removes the
    /// registry entry. Idempotent and synchronous.
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
        self.network.shutdown();
        self.host.cleanup();
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
