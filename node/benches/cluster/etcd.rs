//! A 3-node etcd cluster on loopback for side-by-side figures (etcd's JSON gateway, v3 API).

#![allow(clippy::disallowed_methods, dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Standard base64 (the etcd JSON gateway carries keys and values as base64 bytes).
pub fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// etcd member processes, killed on drop.
pub struct EtcdCluster {
    children: Vec<Child>,
    clients: Vec<String>,
    _dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Starts `n` members with fresh data dirs.
    pub fn start(n: u64) -> EtcdCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let peers: Vec<String> =
            (0..n).map(|_| format!("http://127.0.0.1:{}", free_port())).collect();
        let clients: Vec<String> =
            (0..n).map(|_| format!("http://127.0.0.1:{}", free_port())).collect();
        let initial: Vec<String> =
            peers.iter().enumerate().map(|(i, p)| format!("e{}={p}", i + 1)).collect();
        let initial = initial.join(",");
        let children = (0..n as usize)
            .map(|i| {
                Command::new("etcd")
                    .args(["--name", &format!("e{}", i + 1)])
                    .args([
                        "--data-dir",
                        &dir.path().join(format!("e{}", i + 1)).display().to_string(),
                    ])
                    .args([
                        "--listen-client-urls",
                        &clients[i],
                        "--advertise-client-urls",
                        &clients[i],
                    ])
                    .args([
                        "--listen-peer-urls",
                        &peers[i],
                        "--initial-advertise-peer-urls",
                        &peers[i],
                    ])
                    .args(["--initial-cluster", &initial, "--initial-cluster-state", "new"])
                    .args(["--initial-cluster-token", "faultline-bench"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn etcd")
            })
            .collect();
        EtcdCluster { children, clients, _dir: dir }
    }

    /// The client URL of the member that leads, once one does.
    pub async fn leader_url(&self, http: &reqwest::Client, timeout: Duration) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            for url in &self.clients {
                let status =
                    http.post(format!("{url}/v3/maintenance/status")).json(&json!({})).send().await;
                let Ok(status) = status else { continue };
                let Ok(s) = status.json::<Value>().await else { continue };
                let (me, leader) = (&s["header"]["member_id"], &s["leader"]);
                if !leader.is_null() && me == leader {
                    return Some(url.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
