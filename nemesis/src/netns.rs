//! The netns backend: one network namespace and IP per node on a bridge; partitions and
//! packet loss by iptables rules inside the namespaces (needs root).
//!
//! ```text
//!  host: bridge fl<tag>br 10.77.K.254/24 ── veth fl<tag>v<i> ══ eth0 10.77.K.i/24 in netns fl<tag>-n<i>
//!  in each netns:  INPUT -> FL-PART (partition DROPs by source)  -> FL-LOSS (statistic DROPs)
//! ```
//!
//! Rules live only inside namespaces this run created, so deleting a namespace removes its
//! rules; deleting the namespace's end of a veth deletes the pair. Cleanup is therefore:
//! delete the namespaces, then the bridge. Every name carries the run's tag, so a later run
//! finds what a crashed run left behind (see [`crate::state`]).
//!
//! Host-side assumption: with `br_netfilter` loaded, bridged frames also traverse the host's
//! `FORWARD` chain; a host whose `FORWARD` policy is DROP (e.g. with Docker) needs
//! `iptables -I FORWARD -i fl+ -o fl+ -j ACCEPT`. We never change the host's rules ourselves.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Command;

use crate::Error;

/// A run's namespaces and bridge.
#[derive(Debug, Clone)]
pub(crate) struct Netns {
    pub bridge: String,
    pub namespaces: Vec<String>,
    /// Host ends of the veth pairs (deleting one deletes the pair at once, even while the
    /// namespace lingers because sockets in TIME_WAIT still hold it).
    pub veths: Vec<String>,
    pub ips: Vec<Ipv4Addr>,
    pub host_ip: Ipv4Addr,
}

/// The names a run with `tag` uses (also for cleaning up stale runs).
pub(crate) fn bridge_name(tag: &str) -> String {
    format!("fl{tag}br")
}

/// The namespace of node `i` (1-based).
pub(crate) fn ns_name(tag: &str, i: usize) -> String {
    format!("fl{tag}-n{i}")
}

/// Runs a command, returning its stdout or an [`Error::Command`] with its stderr.
pub(crate) fn run(args: &[&str]) -> Result<String, Error> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| Error::Command { command: args.join(" "), stderr: e.to_string() })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fails with [`Error::NotRoot`] unless we are root, and with [`Error::BinaryMissing`] when
/// `ip` or `iptables` is absent.
pub(crate) fn check_prerequisites() -> Result<(), Error> {
    let uid = nix::unistd::geteuid();
    if !uid.is_root() {
        return Err(Error::NotRoot { uid: uid.as_raw() });
    }
    for (tool, pkg) in [("ip", "iproute2"), ("iptables", "iptables")] {
        if run(&["sh", "-c", &format!("command -v {tool}")]).is_err() {
            return Err(Error::BinaryMissing {
                path: tool.into(),
                hint: format!("install it with `apt-get install -y {pkg}`"),
            });
        }
    }
    Ok(())
}

/// Picks a /24 under 10.77.0.0/16 that no host interface uses yet.
fn free_subnet(tag: &str) -> Result<u8, Error> {
    let used = run(&["ip", "-o", "-4", "addr", "show"])?;
    let start = u8::from_str_radix(&tag[..2], 16).unwrap_or(0) % 250;
    for k in 0..250u8 {
        let third = (start + k) % 250 + 1;
        if !used.contains(&format!("10.77.{third}.")) {
            return Ok(third);
        }
    }
    Err(Error::NoPort("10.77.0.0/16 (every /24 is in use)".into()))
}

impl Netns {
    /// Creates the bridge, one namespace per node, and the iptables chains.
    ///
    /// On error, whatever was created is removed again.
    pub fn create(tag: &str, n: usize) -> Result<Netns, Error> {
        // Two runs must not pick the same free subnet: choose and claim it under a lock.
        let _lock = crate::state::exclusive_lock("netns.lock")?;
        let third = free_subnet(tag)?;
        let net = Netns {
            bridge: bridge_name(tag),
            namespaces: (1..=n).map(|i| ns_name(tag, i)).collect(),
            veths: (1..=n).map(|i| format!("fl{tag}v{i}")).collect(),
            ips: (1..=n).map(|i| Ipv4Addr::new(10, 77, third, i as u8)).collect(),
            host_ip: Ipv4Addr::new(10, 77, third, 254),
        };
        if let Err(e) = net.build() {
            net.destroy();
            return Err(e);
        }
        Ok(net)
    }

    fn build(&self) -> Result<(), Error> {
        let br = self.bridge.as_str();
        run(&["ip", "link", "add", br, "type", "bridge"])?;
        run(&["ip", "addr", "add", &format!("{}/24", self.host_ip), "dev", br])?;
        run(&["ip", "link", "set", br, "up"])?;
        for (k, ns) in self.namespaces.iter().enumerate() {
            let veth = self.veths[k].as_str();
            run(&["ip", "netns", "add", ns])?;
            run(&["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])?;
            run(&["ip", "link", "set", veth, "master", br, "up"])?;
            run(&["ip", "-n", ns, "addr", "add", &format!("{}/24", self.ips[k]), "dev", "eth0"])?;
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            for chain in ["FL-PART", "FL-LOSS"] {
                self.iptables(k, &["-N", chain])?;
                self.iptables(k, &["-A", "INPUT", "-j", chain])?;
            }
        }
        Ok(())
    }

    fn iptables(&self, k: usize, args: &[&str]) -> Result<String, Error> {
        let mut argv = vec!["ip", "netns", "exec", &self.namespaces[k], "iptables", "-w"];
        argv.extend_from_slice(args);
        run(&argv)
    }

    /// Replaces the partition rules: for each cut link `(from, to)`, `to` drops packets from
    /// `from`'s IP. Returns the packets the rules it replaced had dropped.
    pub fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<u64, Error> {
        let mut dropped = 0;
        for k in 0..self.namespaces.len() {
            dropped += packets(&self.iptables(k, &["-L", "FL-PART", "-v", "-x", "-n"])?);
            self.iptables(k, &["-F", "FL-PART"])?;
        }
        for &(from, to) in cut {
            let src = self.ips[from].to_string();
            self.iptables(to, &["-A", "FL-PART", "-s", &src, "-j", "DROP"])?;
        }
        Ok(dropped)
    }

    /// Drops each packet between nodes with probability `p` (0 removes the rules).
    pub fn set_loss(&self, p: f64) -> Result<(), Error> {
        let prob = format!("{p}");
        for k in 0..self.namespaces.len() {
            self.iptables(k, &["-F", "FL-LOSS"])?;
            if p <= 0.0 {
                continue;
            }
            for (j, ip) in self.ips.iter().enumerate() {
                if j != k {
                    let src = ip.to_string();
                    self.iptables(
                        k,
                        &[
                            "-A",
                            "FL-LOSS",
                            "-s",
                            &src,
                            "-m",
                            "statistic",
                            "--mode",
                            "random",
                            "--probability",
                            &prob,
                            "-j",
                            "DROP",
                        ],
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Deletes the namespaces (with their veths and rules) and the bridge. Best effort,
    /// synchronous (used by the panic guard too).
    pub fn destroy(&self) {
        for veth in &self.veths {
            let _ = run(&["ip", "link", "del", veth]);
        }
        for ns in &self.namespaces {
            if let Err(e) = run(&["ip", "netns", "del", ns]) {
                tracing::debug!("{e}");
            }
        }
        if let Err(e) = run(&["ip", "link", "del", &self.bridge]) {
            tracing::debug!("{e}");
        }
    }
}

/// The packets counted by the rules of an `iptables -L CHAIN -v -x -n` listing (first
/// column of each rule line; the two header lines have none).
pub(crate) fn packets(listing: &str) -> u64 {
    listing.lines().filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok()).sum()
}

/// Namespaces and links on this host whose names look like ours (`fl<4 hex>...`), by tag.
pub(crate) fn existing_tags() -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let ns = run(&["ip", "netns", "list"]).unwrap_or_default();
    let links = run(&["ip", "-o", "link", "show"]).unwrap_or_default();
    let names = ns
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .chain(links.lines().filter_map(|l| l.split(':').nth(1)).map(str::trim))
        .map(|n| n.split('@').next().unwrap_or(n));
    for name in names {
        if let Some(rest) = name.strip_prefix("fl") {
            let tag: String = rest.chars().take(4).collect();
            if tag.len() == 4 && tag.chars().all(|c| c.is_ascii_hexdigit()) && rest.len() > 4 {
                tags.insert(tag);
            }
        }
    }
    tags
}

/// Removes every namespace and link of the run tagged `tag` (stale state).
pub(crate) fn destroy_tag(tag: &str) {
    let ns = run(&["ip", "netns", "list"]).unwrap_or_default();
    for name in ns.lines().filter_map(|l| l.split_whitespace().next()) {
        if name.starts_with(&format!("fl{tag}-")) {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
    let links = run(&["ip", "-o", "link", "show"]).unwrap_or_default();
    for name in links.lines().filter_map(|l| l.split(':').nth(1)).map(str::trim) {
        let name = name.split('@').next().unwrap_or(name);
        if name.starts_with(&format!("fl{tag}")) {
            let _ = run(&["ip", "link", "del", name]);
        }
    }
}

#[cfg(test)]
#[path = "netns_test.rs"]
mod tests;
