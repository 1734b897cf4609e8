//! The ssh host: every node on a machine of its own, reached over SSH as Jepsen does — one
//! multiplexed connection per host for the whole run, binaries uploaded when they changed,
//! partitions and loss by iptables chains of faultline's own, logs copied back into the
//! store at the end.
//!
//! ```text
//! hosts.toml ──HostsFile::load──> SshHost::create: connect (known hosts checked)
//!     ──> sweep what crashed runs left on each host ──> <dir>/<tag>/controller marker
//!     ──> chains FLP-<tag>/FLL-<tag> ──> layout: nK on host K, data in <dir>/<tag>/nK/data
//! spawn: upload argv[0] to <dir>/bin/ (sha256-compared) unless [binaries] names it
//! cleanup: nodes killed (by the cluster) ──> logs appended to the store's nodes/nK/node.log
//!          ──> chains removed ──> run dir (marker, data, logs) removed ──> connections closed
//! ```
//!
//! A run whose controller died is cleaned up by the next run on the same hosts: the marker
//! names the controlling machine and pid, and a marker whose process is gone has its nodes
//! killed and its chains removed.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::network::Network;
use crate::process::Spawned;
use crate::sync::lock;
use crate::system::{BoxFuture, NodeInfo, NodeStdio, System};
use crate::Error;

use super::Host;

mod conn;
mod firewall;
mod process;

pub use crate::hosts::{HostsFile, SshHostSpec};
use conn::{quote, Conn};
use firewall::Firewall;
use process::SshProcess;

/// Nodes on remote machines.
#[derive(Debug)]
pub struct SshHost {
    file: HostsFile,
    tag: String,
    conns: Vec<Arc<Conn>>,
    firewall: Arc<Firewall>,
    /// Local log files to copy each node's remote log into at the end.
    logs: Mutex<Vec<PathBuf>>,
    /// Programs already uploaded this run, by host index and remote path.
    uploaded: Mutex<BTreeSet<(usize, String)>>,
    /// The sha256 of each local program, computed once for every host.
    sums: Mutex<BTreeMap<PathBuf, String>>,
    cleaned: AtomicBool,
}

/// This machine's identity in run markers (`/etc/machine-id`, else the host name).
fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl SshHost {
    /// Connects to the first `n` hosts of `file`, cleans up after crashed runs there, marks
    /// this run and makes its iptables chains.
    ///
    /// # Errors
    /// Fewer hosts than nodes; a host that cannot be reached or whose key is not known;
    /// iptables missing or refused.
    pub async fn create(file: &HostsFile, tag: &str, n: usize) -> Result<SshHost, Error> {
        if n > file.hosts.len() {
            return Err(Error::Spec(format!(
                "{n} nodes, but the hosts file {} names {} host(s): one node per host",
                file.path.display(),
                file.hosts.len()
            )));
        }
        let connects = file.hosts[..n].iter().map(|h| Conn::connect(h, file));
        let conns: Vec<Arc<Conn>> =
            futures::future::try_join_all(connects).await?.into_iter().map(Arc::new).collect();
        let me = machine_id();
        for c in &conns {
            sweep(c, &me, tag);
            c.run(&format!(
                "mkdir -p {d} && echo {me} {pid} > {d}/controller",
                d = quote(&run_dir(&c.spec, tag)),
                me = quote(&me),
                pid = std::process::id()
            ))?;
        }
        let firewall = Arc::new(Firewall::create(conns.clone(), tag)?);
        Ok(SshHost {
            file: file.clone(),
            tag: tag.to_string(),
            conns,
            firewall,
            logs: Mutex::new(Vec::new()),
            uploaded: Mutex::new(BTreeSet::new()),
            sums: Mutex::new(BTreeMap::new()),
            cleaned: AtomicBool::new(false),
        })
    }

    fn node_dir(&self, i: usize) -> String {
        format!("{}/{}", run_dir(&self.conns[i].spec, &self.tag), faultline_api::node_name(i))
    }

    /// The program to run on host `i` for the local `prog`: the hosts file's path for it,
    /// or the local file uploaded to `<dir>/bin/`, or `prog` as is (on the host's PATH).
    fn program(&self, i: usize, prog: &Path) -> Result<String, Error> {
        let name = prog.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(remote) = self.file.binaries.get(&name) {
            return Ok(remote.clone());
        }
        if !prog.is_file() {
            return Ok(prog.to_string_lossy().into_owned());
        }
        let remote = format!("{}/bin/{name}", self.conns[i].spec.dir);
        if lock(&self.uploaded).insert((i, remote.clone())) {
            let want = match lock(&self.sums).entry(prog.to_path_buf()) {
                Entry::Occupied(e) => e.get().clone(),
                Entry::Vacant(e) => e.insert(conn::sha256(prog)?).clone(),
            };
            let copied = self.conns[i].upload(prog, &want, &remote)?;
            tracing::info!(host = self.conns[i].spec.addr, remote, copied, "binary in place");
        }
        Ok(remote)
    }
}

/// The run's directory on a host.
fn run_dir(host: &SshHostSpec, tag: &str) -> String {
    format!("{}/{tag}", host.dir)
}

/// Cleans up the runs on `c` whose controller (on this machine) is gone.
fn sweep(c: &Conn, me: &str, tag: &str) {
    let script = format!(
        "for f in {}/*/controller; do [ -f \"$f\" ] && echo \"$f $(head -c 200 \"$f\" | tr -d '\\n')\"; done; true",
        quote(&c.spec.dir)
    );
    for line in c.run(&script).unwrap_or_default().lines() {
        let mut it = line.split_whitespace();
        let (Some(path), Some(machine), Some(pid)) =
            (it.next(), it.next(), it.next().and_then(|p| p.parse::<i32>().ok()))
        else {
            continue;
        };
        let stale_tag = path.trim_end_matches("/controller").rsplit('/').next().unwrap_or("");
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if machine != me || alive || stale_tag == tag || stale_tag.len() != 4 {
            continue;
        }
        tracing::warn!(host = c.spec.addr, tag = stale_tag, "cleaning up after a crashed run");
        let dir = format!("{}/{stale_tag}", c.spec.dir);
        let _ = c.run(&format!(
            "for f in {d}/n*/node.pid; do [ -f \"$f\" ] && kill -s KILL -- -$(cat \"$f\") 2>/dev/null; done; \
             rm -rf {d}; true",
            d = quote(&dir)
        ));
        let _ = c.run_privileged(&firewall::remove_script(stale_tag));
    }
}

impl Host for SshHost {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn layout<'a>(
        &'a self,
        n: usize,
        system: &'a dyn System,
        dir: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<NodeInfo>, Error>> {
        let ips: Vec<_> = self.conns[..n].iter().map(|c| c.spec.ip).collect();
        let mut nodes = super::one_address_per_node(&ips, system.netns_ports(), dir);
        for (i, node) in nodes.iter_mut().enumerate() {
            node.data_dir = PathBuf::from(format!("{}/data", self.node_dir(i)));
        }
        *lock(&self.logs) = nodes.iter().map(|n| n.log_file.clone()).collect();
        Box::pin(async move { Ok(nodes) })
    }

    fn make_dirs(&self, node: &NodeInfo) -> Result<(), Error> {
        let i = node.id - 1;
        self.conns[i].run(&format!("mkdir -p {}", quote(&node.data_dir.to_string_lossy())))?;
        Ok(())
    }

    fn wipe(&self, node: &NodeInfo) -> Result<(), Error> {
        let d = quote(&node.data_dir.to_string_lossy());
        self.conns[node.id - 1].run(&format!("rm -rf {d} && mkdir -p {d}"))?;
        Ok(())
    }

    fn spawn(
        &self,
        node: &NodeInfo,
        argv: &[OsString],
        stdio: NodeStdio,
    ) -> Result<Spawned, Error> {
        let i = node.id - 1;
        let (prog, args) = argv.split_first().ok_or_else(|| Error::Spec("empty command".into()))?;
        let mut remote = vec![self.program(i, Path::new(prog))?];
        remote.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        let piped = stdio == NodeStdio::Piped;
        SshProcess::spawn(self.conns[i].clone(), &node.name, &self.node_dir(i), &remote, piped)
    }

    fn network(&self) -> Arc<dyn Network> {
        self.firewall.clone()
    }

    fn local_pids(&self) -> bool {
        false
    }

    fn cleanup(&self) {
        if self.cleaned.swap(true, Ordering::SeqCst) {
            return;
        }
        for (i, local) in lock(&self.logs).iter().enumerate() {
            let remote = format!("{}/node.log", self.node_dir(i));
            if let Err(e) = self.conns[i].fetch_append(&remote, local) {
                tracing::warn!("copying {remote} from {}: {e}", self.conns[i].spec.addr);
            }
        }
        self.firewall.shutdown();
        for c in &self.conns {
            // The logs are in the store now: the run leaves nothing on the host but `bin/`.
            let dir = run_dir(&c.spec, &self.tag);
            if let Err(e) = c.run(&format!("rm -rf {}", quote(&dir))) {
                tracing::warn!("removing {dir} on {}: {e}", c.spec.addr);
            }
            c.close();
        }
    }
}
