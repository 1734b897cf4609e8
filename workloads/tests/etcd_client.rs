//! The etcd client against a real single-member etcd (skipped, with a reason, when the
//! `etcd` binary is not installed): every function, both read modes, and refused
//! connections.
// Starts and stops a real process and polls it.
#![allow(clippy::disallowed_methods)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use faultline_workloads::{ClientConfig, Clients, Endpoint, Func, Op, Outcome, SystemKind};
use serde_json::{json, Value};

struct Etcd {
    child: Child,
    _dir: tempfile::TempDir,
    addr: String,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_etcd() -> Option<Etcd> {
    let bin = std::env::var("ETCD_BINARY").unwrap_or_else(|_| "/usr/bin/etcd".into());
    if !std::path::Path::new(&bin).exists() {
        eprintln!("skipping: {bin} not found (apt-get install etcd-server)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let (client, peer) = (free_port(), free_port());
    let addr = format!("127.0.0.1:{client}");
    let child = Command::new(bin)
        .args(["--name", "n1", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg(format!("--listen-client-urls=http://{addr}"))
        .arg(format!("--advertise-client-urls=http://{addr}"))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--initial-cluster=n1=http://127.0.0.1:{peer}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let etcd = Etcd { child, _dir: dir, addr };
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..100 {
        let url = format!("http://{}/health", etcd.addr);
        if let Ok(r) = http.get(&url).send().await {
            if r.status().is_success() {
                return Some(etcd);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("etcd did not become healthy");
}

fn op(f: Func, value: Value) -> Op {
    Op { f, key: "k1".into(), value }
}

#[tokio::test]
async fn every_function_against_a_real_etcd() {
    let Some(etcd) = start_etcd().await else { return };
    for serializable in [false, true] {
        let clients = Clients::new(ClientConfig {
            system: SystemKind::Etcd,
            endpoints: vec![Endpoint { name: "n1".into(), addr: etcd.addr.clone() }],
            controllers: Vec::new(),
            request_timeout: Duration::from_secs(2),
            op_timeout: Duration::from_secs(4),
            serializable_reads: serializable,
        })
        .unwrap();
        let mut c = clients.open(0);
        let key = |f, v| Op { key: format!("r{serializable}"), ..op(f, v) };
        assert_eq!(c.call(&key(Func::Read, Value::Null)).await, Outcome::Ok(Value::Null));
        assert_eq!(c.call(&key(Func::Cas, json!([null, 1]))).await, Outcome::Ok(json!([null, 1])));
        assert_eq!(
            c.call(&key(Func::Cas, json!([5, 6]))).await,
            Outcome::Fail("cas-mismatch".into())
        );
        assert_eq!(c.call(&key(Func::Cas, json!([1, 2]))).await, Outcome::Ok(json!([1, 2])));
        assert_eq!(c.call(&key(Func::Write, json!(7))).await, Outcome::Ok(json!(7)));
        assert_eq!(c.call(&key(Func::Read, Value::Null)).await, Outcome::Ok(json!(7)));

        let kv = |f, v| Op { key: format!("kv{serializable}"), ..op(f, v) };
        assert_eq!(c.call(&kv(Func::Get, Value::Null)).await, Outcome::Ok(json!("")));
        assert!(matches!(c.call(&kv(Func::Append, json!("1,"))).await, Outcome::Ok(_)));
        assert!(matches!(c.call(&kv(Func::Append, json!("2,"))).await, Outcome::Ok(_)));
        assert_eq!(c.call(&kv(Func::Get, Value::Null)).await, Outcome::Ok(json!("1,2,")));
        assert!(matches!(c.call(&kv(Func::Put, json!("3,"))).await, Outcome::Ok(_)));
        assert_eq!(
            c.call(&kv(Func::Cas, json!(["3,", "4,"]))).await,
            Outcome::Ok(json!(["3,", "4,"]))
        );
        assert_eq!(c.call(&kv(Func::Get, Value::Null)).await, Outcome::Ok(json!("4,")));
        assert!(matches!(c.call(&kv(Func::Delete, Value::Null)).await, Outcome::Ok(_)));
        assert_eq!(c.call(&kv(Func::Get, Value::Null)).await, Outcome::Ok(json!("")));
    }
}

#[tokio::test]
async fn concurrent_appends_all_land_once() {
    let Some(etcd) = start_etcd().await else { return };
    let clients = Clients::new(ClientConfig {
        system: SystemKind::Etcd,
        endpoints: vec![Endpoint { name: "n1".into(), addr: etcd.addr.clone() }],
        controllers: Vec::new(),
        request_timeout: Duration::from_secs(2),
        op_timeout: Duration::from_secs(10),
        serializable_reads: false,
    })
    .unwrap();
    let mut tasks = Vec::new();
    for p in 0..4u64 {
        let mut c = clients.open(p);
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let out = c.call(&op(Func::Append, json!(format!("{p}-{i},")))).await;
                assert!(matches!(out, Outcome::Ok(_)), "{out:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let Outcome::Ok(Value::String(s)) = clients.open(9).call(&op(Func::Get, Value::Null)).await
    else {
        panic!("read failed")
    };
    let mut parts: Vec<&str> = s.split(',').filter(|p| !p.is_empty()).collect();
    assert_eq!(parts.len(), 40);
    parts.sort();
    parts.dedup();
    assert_eq!(parts.len(), 40);
}
