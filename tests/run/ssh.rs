//! The ssh backend end to end, against real `sshd`s (root; skipped with a printed reason
//! otherwise): three test hosts, each a network namespace of this test's own on a bridge
//! with its own sshd, address and iptables — so the run drives "remote" machines exactly as
//! it would drive real ones: one multiplexed connection per host, the node binary uploaded,
//! nodes killed, paused and partitioned by iptables chains on the hosts, logs copied back,
//! and nothing left on the hosts afterwards. An unknown host key is refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::util::{self, run_faultline};

/// Three sshd hosts in namespaces (removed on drop).
struct Hosts {
    third: u8,
    dir: tempfile::TempDir,
    sshd: Vec<Child>,
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0]).args(&args[1..]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn out(args: &[&str]) -> String {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Hosts {
    fn ns(&self, i: usize) -> String {
        format!("fts{}-h{i}", self.third)
    }

    fn ip(&self, i: usize) -> String {
        format!("10.79.{}.{i}", self.third)
    }

    fn bridge(&self) -> String {
        format!("fts{}br", self.third)
    }

    /// Starts the hosts, or says why it cannot (not root, no sshd).
    fn start(n: usize) -> Option<Hosts> {
        if util::skip_without_root() {
            return None;
        }
        if !Path::new("/usr/sbin/sshd").is_file() {
            eprintln!("skipping: /usr/sbin/sshd not found (apt-get install -y openssh-server)");
            return None;
        }
        let third = (std::process::id() % 200) as u8 + 20;
        let mut h = Hosts { third, dir: tempfile::tempdir().unwrap(), sshd: Vec::new() };
        h.teardown();
        let br = h.bridge();
        assert!(sh(&["ip", "link", "add", &br, "type", "bridge"]));
        assert!(sh(&["ip", "addr", "add", &format!("10.79.{third}.254/24"), "dev", &br]));
        assert!(sh(&["ip", "link", "set", &br, "up"]));
        let d = h.dir.path().to_path_buf();
        let p = |name: &str| d.join(name).to_string_lossy().into_owned();
        assert!(sh(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", &p("client")]));
        assert!(sh(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", &p("hostkey")]));
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        let hostkey = std::fs::read_to_string(d.join("hostkey.pub")).unwrap();
        let mut known = String::new();
        std::fs::create_dir_all("/run/sshd").unwrap();
        for i in 1..=n {
            let (ns, ip, veth) = (h.ns(i), h.ip(i), format!("fts{third}v{i}"));
            assert!(sh(&["ip", "netns", "add", &ns]));
            assert!(sh(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns
            ]));
            assert!(sh(&["ip", "link", "set", &veth, "master", &br, "up"]));
            assert!(sh(&["ip", "-n", &ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]));
            assert!(sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]));
            assert!(sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]));
            let config = format!(
                "ListenAddress {ip}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nMaxSessions 100\n\
                 MaxStartups 100\n",
                p("hostkey"),
                p(&format!("sshd{i}.pid")),
                p("authorized_keys"),
            );
            std::fs::write(d.join(format!("sshd{i}.conf")), config).unwrap();
            let child = Command::new("ip")
                .args(["netns", "exec", &ns, "/usr/sbin/sshd", "-D", "-e", "-f"])
                .arg(d.join(format!("sshd{i}.conf")))
                .stderr(std::fs::File::create(d.join(format!("sshd{i}.log"))).unwrap())
                .spawn()
                .unwrap();
            h.sshd.push(child);
            known.push_str(&format!("{ip} {hostkey}"));
        }
        std::fs::write(d.join("known_hosts"), known).unwrap();
        std::fs::write(d.join("empty_known_hosts"), "").unwrap();
        // sshd is up once its port answers.
        for i in 1..=n {
            let addr: std::net::SocketAddr = format!("{}:22", h.ip(i)).parse().unwrap();
            let up = (0..100).any(|_| {
                let ok = std::net::TcpStream::connect_timeout(
                    &addr,
                    std::time::Duration::from_millis(200),
                )
                .is_ok();
                if !ok {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                ok
            });
            assert!(up, "sshd on {addr} did not come up");
        }
        Some(h)
    }

    /// A hosts file for the first `n` hosts, each with a run dir of its own.
    fn file(&self, n: usize, known_hosts: &str) -> PathBuf {
        let d = self.dir.path();
        let mut text = format!(
            "user = \"root\"\nkey = \"{}\"\nknown_hosts = \"{}\"\n",
            d.join("client").display(),
            d.join(known_hosts).display()
        );
        for i in 1..=n {
            text.push_str(&format!(
                "[[host]]\naddr = \"{}\"\ndir = \"{}\"\n",
                self.ip(i),
                self.host_dir(i).display()
            ));
        }
        let path = d.join(format!("hosts-{known_hosts}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn host_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("h{i}"))
    }

    fn teardown(&self) {
        for i in 1..=9 {
            sh(&["ip", "netns", "del", &self.ns(i)]);
            sh(&["ip", "link", "del", &format!("fts{}v{i}", self.third)]);
        }
        sh(&["ip", "link", "del", &self.bridge()]);
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.sshd {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.teardown();
    }
}

#[test]
fn a_run_on_ssh_hosts_partitions_kills_pauses_and_leaves_nothing() {
    let _one = util::cluster_lock();
    let Some(hosts) = Hosts::start(3) else { return };
    let file = hosts.file(3, "known_hosts");
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = run_faultline(store.path(), &[
        "--backend", "ssh", "--hosts", file.to_str().unwrap(),
        "--nemesis", "partition,kill,pause,loss", "--nemesis-interval", "2",
        "--nodes", "3", "--time-limit", "24", "--keys", "4", "--seed", "31",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let dir = r.dir();
    util::assert_layout(store.path(), &dir, 3);
    let history = util::history(&dir);
    let installed: std::collections::BTreeSet<&str> = history
        .nemesis
        .iter()
        .filter(|e| e.value["outcome"] == "installed")
        .map(|e| e.f.as_str())
        .collect();
    for f in ["partition", "kill", "pause"] {
        assert!(installed.iter().any(|i| i.contains(f)), "{f} never installed: {installed:?}");
    }
    let ok = history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok).count();
    assert!(ok > 100, "only {ok} ok operations: {r:?}");
    // The nodes' logs came back from the hosts, and each host got the binary uploaded.
    for i in 1..=3 {
        let log = std::fs::read_to_string(dir.join(format!("nodes/n{i}/node.log"))).unwrap();
        assert!(!log.is_empty(), "n{i}'s log was not copied back");
        assert!(hosts.host_dir(i).join("bin/faultline-node").is_file(), "no upload on host {i}");
    }
    // Nothing left on the hosts: no chain of faultline's, no node process, no run marker.
    for i in 1..=3 {
        let rules = out(&["ip", "netns", "exec", &hosts.ns(i), "iptables", "-S"]);
        assert!(!rules.contains("FLP-") && !rules.contains("FLL-"), "host {i} rules left: {rules}");
        let left: Vec<String> = std::fs::read_dir(hosts.host_dir(i))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "bin")
            .collect();
        assert!(left.is_empty(), "host {i} still has run directories: {left:?}");
    }
    let left = out(&["pgrep", "-f", &hosts.dir.path().to_string_lossy()]);
    let nodes: Vec<&str> = left
        .lines()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.contains("faultline-node"))
        })
        .collect();
    assert!(nodes.is_empty(), "node processes left on the hosts: {nodes:?}");
}

#[test]
fn etcd_on_ssh_hosts_passes_under_partitions_and_kills() {
    if !util::etcd_available() {
        return;
    }
    let _one = util::cluster_lock();
    let Some(hosts) = Hosts::start(3) else { return };
    let file = hosts.file(3, "known_hosts");
    // etcd is already on the hosts: the hosts file names it, so nothing is uploaded.
    let mut text = std::fs::read_to_string(&file).unwrap();
    text = text.replacen("[[host]]", "[binaries]\netcd = \"/usr/bin/etcd\"\n[[host]]", 1);
    std::fs::write(&file, text).unwrap();
    let store = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let r = util::run(store.path(), &[
        "--system", "etcd", "--backend", "ssh", "--hosts", file.to_str().unwrap(),
        "--workload", "register", "--nemesis", "partition,kill", "--nemesis-interval", "2",
        "--nodes", "3", "--time-limit", "16", "--keys", "4", "--seed", "32",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let history = util::history(&r.dir());
    let ok = history.ops.iter().filter(|o| o.outcome == faultline_checker::Outcome::Ok).count();
    assert!(ok > 100, "only {ok} ok operations: {r:?}");
    for i in 1..=3 {
        assert!(!hosts.host_dir(i).join("bin").exists(), "host {i}: etcd was uploaded");
        let log = std::fs::read_to_string(r.dir().join(format!("nodes/n{i}/node.log"))).unwrap();
        assert!(log.contains("etcd"), "n{i}'s etcd log was not copied back");
    }
}

#[test]
fn an_unknown_host_key_is_refused_before_anything_starts() {
    let _one = util::cluster_lock();
    let Some(hosts) = Hosts::start(3) else { return };
    let file = hosts.file(3, "empty_known_hosts");
    let store = tempfile::tempdir().unwrap();
    let r = run_faultline(
        store.path(),
        &[
            "--backend",
            "ssh",
            "--hosts",
            file.to_str().unwrap(),
            "--nodes",
            "3",
            "--time-limit",
            "5",
        ],
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("Host key verification failed") || r.stderr.contains("host key"),
        "{r:?}"
    );
    for i in 1..=3 {
        assert!(!hosts.host_dir(i).join("bin").exists(), "host {i} was touched");
    }
}
