//! Starts real `faultline-node` processes on loopback and talks to them over HTTP.
//! Shared by the integration tests and the `cluster` benchmark.
//!
//! ```text
//!   Cluster::start(n) ─▶ n processes (free ports, temp data dirs) ─▶ Node::kill / restart
//!   Client ─▶ POST /v1/kv to the believed leader; follows 421 hints; retries keep (client, seq)
//! ```
//!
//! Every process is SIGKILLed when its [`Node`] drops, so a failing test leaves nothing behind.

// Test harness: it spawns processes, sleeps while polling, and measures real time.
#![allow(clippy::disallowed_methods, dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One node process and how to restart it.
pub struct Node {
    pub id: u64,
    pub client_addr: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let child = Command::new(env!("CARGO_BIN_EXE_faultline-node"))
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn faultline-node");
        self.child = Some(child);
    }

    /// SIGKILL (no graceful shutdown) and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again with the same flags and data dir.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Whether the process is running (as far as this harness knows).
    /// Adds flags for the next (re)start.
    pub fn add_args(&mut self, args: &[&str]) {
        self.args.extend(args.iter().map(|s| s.to_string()));
    }

    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    /// Waits up to `timeout` for the process to exit by itself; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM and wait up to `timeout` for a clean exit; returns the exit status code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A set of node processes on loopback.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    // Bind port 0 and release it; the node binds it again a moment later.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Cluster {
    /// Starts `n` nodes with `extra` flags each; does not wait for a leader.
    pub fn start(n: u64, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let peer: Vec<String> = (0..n).map(|_| format!("127.0.0.1:{}", free_port())).collect();
        let client: Vec<String> = (0..n).map(|_| format!("127.0.0.1:{}", free_port())).collect();
        let mut nodes = Vec::new();
        for i in 1..=n {
            let me = (i - 1) as usize;
            let mut args: Vec<String> = vec![
                "--id".into(),
                i.to_string(),
                "--peer-listen".into(),
                peer[me].clone(),
                "--client-listen".into(),
                client[me].clone(),
                "--data-dir".into(),
                dir.path().join(format!("n{i}")).display().to_string(),
            ];
            for j in 1..=n {
                if j != i {
                    let them = (j - 1) as usize;
                    args.extend(["--peer".into(), format!("{j}={}", peer[them])]);
                    args.extend(["--peer-client".into(), format!("{j}={}", client[them])]);
                }
            }
            args.extend(extra.iter().map(|s| s.to_string()));
            let log = dir.path().join(format!("n{i}.log"));
            let mut node = Node { id: i, client_addr: client[me].clone(), args, log, child: None };
            node.spawn();
            nodes.push(node);
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()
            .expect("http client");
        Cluster { nodes, dir, http }
    }

    /// Node `id` (1-based).
    pub fn node(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[(id - 1) as usize]
    }

    /// The node's log so far (for failure messages).
    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("n{id}.log"))).unwrap_or_default()
    }

    /// `GET /v1/status` of node `id`, if it answers.
    pub async fn status(&self, id: u64) -> Option<Value> {
        let url = format!("http://{}/v1/status", self.nodes[(id - 1) as usize].client_addr);
        let resp = self.http.get(url).timeout(Duration::from_millis(500)).send().await.ok()?;
        resp.json().await.ok()
    }

    /// An admin call to node `id`: `GET path` without a body, `POST path` with one; returns
    /// (HTTP status, JSON body) if the node answers.
    pub async fn admin(&self, id: u64, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
        let url = format!("http://{}{path}", self.nodes[(id - 1) as usize].client_addr);
        let req = match body {
            Some(b) => self.http.post(url).json(b),
            None => self.http.get(url),
        };
        let resp = req.timeout(Duration::from_millis(1000)).send().await.ok()?;
        let code = resp.status().as_u16();
        Some((code, resp.json().await.unwrap_or(Value::Null)))
    }

    /// Waits until a running node says it is the leader; returns its id.
    pub async fn wait_leader(&self, timeout: Duration) -> u64 {
        let start = Instant::now();
        while start.elapsed() < timeout {
            for node in self.nodes.iter().filter(|n| n.is_up()) {
                if let Some(s) = self.status(node.id).await {
                    if s["role"] == "leader" {
                        return node.id;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no leader within {timeout:?}; logs:\n{}", self.all_logs());
    }

    /// Every node's log.
    pub fn all_logs(&self) -> String {
        (1..=self.nodes.len() as u64).map(|i| format!("--- n{i}\n{}", self.log(i))).collect()
    }

    /// A client for this cluster's nodes.
    pub fn client(&self) -> Client {
        Client {
            addrs: self.nodes.iter().map(|n| n.client_addr.clone()).collect(),
            http: self.http.clone(),
            logs: self.dir.path().to_path_buf(),
        }
    }
}

/// Talks to a cluster's nodes; cheap to clone into tasks.
#[derive(Clone)]
pub struct Client {
    addrs: Vec<String>,
    http: reqwest::Client,
    /// Where the nodes' logs are, to print them when a request fails.
    logs: PathBuf,
}

impl Client {
    /// Sends one request to node `id`; returns (HTTP status, body).
    pub async fn send(&self, id: u64, body: &Value) -> Result<(u16, Value), String> {
        let url = format!("http://{}/v1/kv", self.addrs[(id - 1) as usize]);
        let resp = self.http.post(url).json(body).send().await.map_err(|e| e.to_string())?;
        let code = resp.status().as_u16();
        let json = resp.json().await.map_err(|e| e.to_string())?;
        Ok((code, json))
    }

    /// Sends `body` until it gets a definite answer (`ok` or `fail`), following not-leader
    /// hints and retrying unknowns with the same (client, seq), for at most `timeout`.
    /// Returns the node that answered and the answer.
    pub async fn request(&self, mut leader: u64, body: &Value, timeout: Duration) -> (u64, Value) {
        let n = self.addrs.len() as u64;
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < timeout {
            match self.send(leader, body).await {
                Ok((_, json)) if json["status"] == "ok" || json["status"] == "fail" => {
                    return (leader, json)
                }
                Ok((_, json)) if json["status"] == "not-leader" => {
                    if let Some(hint) = json["leader"]["id"].as_u64() {
                        if hint != leader {
                            leader = hint;
                            continue;
                        }
                    }
                    last = json.to_string();
                }
                Ok((_, json)) => last = json.to_string(),
                Err(e) => last = e,
            }
            leader = leader % n + 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let logs: String = (1..=n)
            .map(|i| {
                let log = std::fs::read_to_string(self.logs.join(format!("n{i}.log")));
                format!("--- n{i}\n{}", log.unwrap_or_default())
            })
            .collect();
        panic!(
            "request {body} got no definite answer in {timeout:?} (last: {last}); logs:\n{logs}"
        );
    }
}

/// A request body.
pub fn op(client: u64, seq: u64, op: &str, key: &str, value: Option<&str>) -> Value {
    json!({"client": client, "seq": seq, "op": op, "key": key, "value": value})
}
