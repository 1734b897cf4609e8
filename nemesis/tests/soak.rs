//! A long nemesis run with every fault, for soaking (ignored by default):
//!
//! ```text
//! NEMESIS_SOAK_SECS=60 NEMESIS_SOAK_SEED=9 NEMESIS_SOAK_SYSTEM=faultline|etcd NEMESIS_SOAK_BACKEND=local|netns \
//!   cargo test -p faultline-nemesis --release --test integration soak -- --ignored --nocapture
//! ```
//! Prints every event; asserts the cluster heals to a leader and leaves nothing behind.

use std::path::PathBuf;
use std::time::Duration;

use faultline_nemesis::{Backend, Cluster, ClusterSpec, Fault, Nemesis, NemesisConfig, SystemSpec};

use crate::util::processes_mentioning;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: set NEMESIS_SOAK_SECS and run with --ignored"]
async fn soak() {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let secs: u64 = env("NEMESIS_SOAK_SECS", "60").parse().unwrap();
    let seed: u64 = env("NEMESIS_SOAK_SEED", "9").parse().unwrap();
    let backend: Backend = env("NEMESIS_SOAK_BACKEND", "local").parse().unwrap();
    let system = match env("NEMESIS_SOAK_SYSTEM", "faultline").as_str() {
        "etcd" => SystemSpec::Etcd { binary: "/usr/bin/etcd".into(), serializable_reads: false },
        _ => {
            let exe = std::env::current_exe().unwrap();
            let bin: PathBuf = exe.parent().unwrap().parent().unwrap().join("faultline-node");
            SystemSpec::Faultline {
                binary: bin,
                unsafe_bug: None,
                read_mode: None,
                extra_args: vec![],
            }
        }
    };
    let dir = tempfile::tempdir().unwrap().keep();
    let cluster =
        Cluster::start(ClusterSpec::new(system, 5, backend, dir.clone(), 1)).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<faultline_nemesis::FaultEvent>();
    let printer = tokio::spawn(async move {
        let mut n = 0;
        while let Some(e) = rx.recv().await {
            eprintln!("{:>4} {} {}", n, e.name.f(), e.history_value());
            n += 1;
        }
        n
    });
    let mut nemesis =
        Nemesis::new(NemesisConfig::new(Fault::ALL.to_vec(), Duration::from_secs(2), seed));
    nemesis.run(&cluster, Duration::from_secs(secs), &tx).await.unwrap();
    nemesis.heal_all(&cluster, &tx).await.unwrap();
    drop(tx);
    let events = printer.await.unwrap();
    cluster.wait_ready(Duration::from_secs(30)).await.unwrap();
    eprintln!("{events} events; proxied connections after heal: {}", cluster.proxied_connections());
    cluster.shutdown().await.unwrap();
    assert_eq!(processes_mentioning(&dir), Vec::<u32>::new());
}
