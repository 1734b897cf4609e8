//! The hosts file of the ssh backend (`crate::host::SshHost`): which machines run the nodes and how to reach them.
//!
//! ```toml
//! # defaults for every host (each [[host]] may override user, port, key, sudo, dir)
//! user = "root"
//! port = 22
//! key = "/home/me/.ssh/id_ed25519"        # ssh -i
//! known_hosts = "/home/me/.ssh/known_hosts" # host keys are checked against it
//! accept_unknown_host_keys = false          # true: trust a host seen for the first time
//! sudo = false                              # prefix iptables/kill with `sudo -n`
//! dir = "/tmp/faultline"                    # each run lives in <dir>/<tag>/ on the host
//!
//! [binaries]            # programs already on the hosts, by file name: not uploaded
//! etcd = "/usr/bin/etcd"
//!
//! [[host]]
//! addr = "10.0.0.1"     # an IPv4 address or a name resolving to one
//! [[host]]
//! addr = "10.0.0.2"
//! port = 2222
//! ```
//!
//! Node `nK` runs on the K-th host. The file is bounded (64 KiB, 100 hosts), unknown keys
//! are errors, and every error names the file (and, for syntax, the line).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

/// The largest hosts file read.
const MAX_BYTES: u64 = 64 * 1024;
/// The most hosts one file may name.
const MAX_HOSTS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    user: Option<String>,
    port: Option<u16>,
    key: Option<PathBuf>,
    known_hosts: Option<PathBuf>,
    #[serde(default)]
    accept_unknown_host_keys: bool,
    #[serde(default)]
    sudo: bool,
    dir: Option<String>,
    #[serde(default)]
    binaries: BTreeMap<String, String>,
    #[serde(default)]
    host: Vec<HostEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    addr: String,
    user: Option<String>,
    port: Option<u16>,
    key: Option<PathBuf>,
    sudo: Option<bool>,
    dir: Option<String>,
}

/// One machine, with everything needed to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct SshHostSpec {
    /// As written in the file.
    pub addr: String,
    /// Its IPv4 address (nodes bind and are dialed there; partitions cut by it).
    pub ip: Ipv4Addr,
    /// The SSH user (`None`: ssh's default).
    pub user: Option<String>,
    /// The SSH port.
    pub port: u16,
    /// The private key (`None`: ssh's default keys and agent).
    pub key: Option<PathBuf>,
    /// Whether privileged commands (iptables) need `sudo -n`.
    pub sudo: bool,
    /// The directory each run lives under on this host.
    pub dir: String,
}

/// A parsed hosts file.
#[derive(Debug, Clone, PartialEq)]
pub struct HostsFile {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The hosts, in node order.
    pub hosts: Vec<SshHostSpec>,
    /// The known-hosts file host keys are checked against (`None`: ssh's default).
    pub known_hosts: Option<PathBuf>,
    /// Whether a host key seen for the first time is accepted (and added).
    pub accept_unknown_host_keys: bool,
    /// Programs already on the hosts, by file name.
    pub binaries: BTreeMap<String, String>,
}

impl HostsFile {
    /// Reads and checks a hosts file.
    ///
    /// # Errors
    /// [`Error::Spec`] naming the file and what is wrong (line and key for syntax).
    pub fn load(path: &Path) -> Result<HostsFile, Error> {
        let bad = |msg: String| Error::Spec(format!("hosts file {}: {msg}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.len() > MAX_BYTES {
            return Err(bad(format!("{} bytes, more than the {MAX_BYTES} allowed", meta.len())));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        Self::parse(path, &text)
    }

    /// Parses the text of a hosts file read from `path`.
    ///
    /// # Errors
    /// As [`HostsFile::load`].
    pub fn parse(path: &Path, text: &str) -> Result<HostsFile, Error> {
        let bad = |msg: String| Error::Spec(format!("hosts file {}: {msg}", path.display()));
        let file: File = toml::from_str(text).map_err(|e| bad(e.to_string().trim().into()))?;
        if file.host.is_empty() {
            return Err(bad("no [[host]] entries".into()));
        }
        if file.host.len() > MAX_HOSTS {
            return Err(bad(format!(
                "{} hosts, more than the {MAX_HOSTS} allowed",
                file.host.len()
            )));
        }
        let mut hosts = Vec::with_capacity(file.host.len());
        for (k, h) in file.host.iter().enumerate() {
            let at = |msg: String| bad(format!("host {} ({:?}): {msg}", k + 1, crate_cut(&h.addr)));
            let dir = h.dir.clone().or_else(|| file.dir.clone()).unwrap_or("/tmp/faultline".into());
            if !dir.starts_with('/') || dir.contains(|c: char| c.is_control() || c == '\'') {
                return Err(at(format!("dir {dir:?} must be an absolute path without quotes")));
            }
            let user = h.user.clone().or_else(|| file.user.clone());
            if user
                .as_deref()
                .is_some_and(|u| !u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
            {
                return Err(at("user may hold only letters, digits, '.', '_' and '-'".into()));
            }
            hosts.push(SshHostSpec {
                ip: resolve(&h.addr).map_err(at)?,
                addr: h.addr.clone(),
                user,
                port: h.port.or(file.port).unwrap_or(22),
                key: h.key.clone().or_else(|| file.key.clone()),
                sudo: h.sudo.unwrap_or(file.sudo),
                dir,
            });
        }
        for (i, a) in hosts.iter().enumerate() {
            if let Some(b) = hosts[..i].iter().find(|b| b.ip == a.ip) {
                return Err(bad(format!(
                    "hosts {:?} and {:?} are both {}: one node per host (partitions cut by address)",
                    b.addr, a.addr, a.ip
                )));
            }
        }
        for (name, remote) in &file.binaries {
            if !remote.starts_with('/') || remote.contains(|c: char| c.is_control() || c == '\'') {
                return Err(bad(format!("binaries.{name}: {remote:?} must be an absolute path")));
            }
        }
        Ok(HostsFile {
            path: path.to_path_buf(),
            hosts,
            known_hosts: file.known_hosts,
            accept_unknown_host_keys: file.accept_unknown_host_keys,
            binaries: file.binaries,
        })
    }
}

fn crate_cut(s: &str) -> String {
    faultline_api::cut(s, 60)
}

/// The IPv4 address of `addr` (a literal, or a name).
fn resolve(addr: &str) -> Result<Ipv4Addr, String> {
    if let Ok(ip) = addr.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    if addr.is_empty()
        || addr.len() > 253
        || !addr.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
    {
        return Err("addr must be an IPv4 address or a host name".into());
    }
    let found = (addr, 22).to_socket_addrs().map_err(|e| format!("cannot resolve: {e}"))?;
    found
        .filter_map(|a| match a.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| "resolves to no IPv4 address".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HostsFile, String> {
        HostsFile::parse(Path::new("hosts.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_apply_and_hosts_override_them() {
        let f = parse(
            "user = \"root\"\nport = 2200\nsudo = true\n[binaries]\netcd = \"/usr/bin/etcd\"\n\
             [[host]]\naddr = \"10.0.0.1\"\n[[host]]\naddr = \"10.0.0.2\"\nport = 22\nsudo = false\n",
        )
        .unwrap();
        assert_eq!(f.hosts.len(), 2);
        assert_eq!((f.hosts[0].port, f.hosts[0].sudo), (2200, true));
        assert_eq!((f.hosts[1].port, f.hosts[1].sudo), (22, false));
        assert_eq!(f.hosts[1].user.as_deref(), Some("root"));
        assert_eq!(f.hosts[0].dir, "/tmp/faultline");
        assert_eq!(f.binaries["etcd"], "/usr/bin/etcd");
        assert!(!f.accept_unknown_host_keys);
    }

    #[test]
    fn bad_files_are_refused_naming_what_is_wrong() {
        let e = parse("[[host]]\naddr = \"10.0.0.1\"\nprot = 22\n").unwrap_err();
        assert!(e.contains("hosts.toml") && e.contains("prot") && e.contains("line 3"), "{e}");
        let e = parse("user = \"root\"\n").unwrap_err();
        assert!(e.contains("no [[host]]"), "{e}");
        let e =
            parse("[[host]]\naddr = \"10.0.0.1\"\n[[host]]\naddr = \"10.0.0.1\"\n").unwrap_err();
        assert!(e.contains("one node per host"), "{e}");
        let e = parse("[[host]]\naddr = \"a b\"\n").unwrap_err();
        assert!(e.contains("host 1") && e.contains("IPv4"), "{e}");
        let e = parse("dir = \"rel/dir\"\n[[host]]\naddr = \"10.0.0.1\"\n").unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let e = parse("user = \"x;rm\"\n[[host]]\naddr = \"10.0.0.1\"\n").unwrap_err();
        assert!(e.contains("user may hold"), "{e}");
    }
}
