//! The `faultline-node` binary: parse flags, recover storage, bind, run until SIGTERM/SIGINT.
//!
//! ```text
//!   argv (+ --config FILE.toml) ─▶ Config ─▶ Runtime::bind ─▶ Runtime::run(shutdown)
//!   SIGTERM / SIGINT ─▶ ShutdownTrigger ─▶ pending requests answered "unknown", WAL drained
//! ```
//!
//! `--role` picks the state machine: `kv` (default), `controller` or `group` (docs/sharded.md).
//!
//! Exit codes: 0 after a graceful shutdown, 3 on bad usage or when the node cannot start or
//! must stop (storage failure); the error chain goes to stderr.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use faultline_node::config::Args;
use faultline_node::config::NodeRole;
use faultline_node::kv::Kv;
use faultline_node::runtime::migrate::{Migration, NoSidecar};
use faultline_node::runtime::{shutdown, Runtime};
use faultline_node::shard::{Controller, ControllerOptions, Gid, Group, GroupOptions};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            // Printing help or a usage error; if stdout/stderr is gone there is nothing to do.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cfg = match args.resolve() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("faultline-node: {e}");
            return ExitCode::from(3);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("node")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("faultline-node: cannot start the tokio runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline-node: {e:#}");
            ExitCode::from(3)
        }
    }
}

async fn run(cfg: faultline_node::config::Config) -> anyhow::Result<()> {
    let id = cfg.id;
    let node = Runtime::bind(cfg.clone()).await.with_context(|| format!("starting node {id}"))?;
    let (trigger, down) = shutdown::channel();
    tokio::spawn(async move {
        match wait_for_signal().await {
            Ok(name) => {
                tracing::info!(signal = name, "shutting down");
                trigger.trigger();
            }
            Err(e) => {
                // Keep running (SIGKILL still stops the node); keep the trigger alive, since
                // dropping it would also mean "shut down".
                tracing::error!(error = %e, "cannot listen for signals");
                std::future::pending::<()>().await;
                drop(trigger);
            }
        }
    });
    let ticks = |ms: u64| (ms / cfg.tick_ms).max(1);
    let done = match cfg.role {
        NodeRole::Kv => node.run::<Kv, _>(down, &(), NoSidecar).await,
        NodeRole::Controller => {
            let opts = ControllerOptions { shards: cfg.shards };
            node.run::<Controller, _>(down, &opts, NoSidecar).await
        }
        NodeRole::Group => {
            let opts = GroupOptions { gid: Gid(cfg.gid), shards: cfg.shards };
            let controllers = cfg.controllers.values().cloned().collect();
            // Poll the controller every 100 ms, re-send pulls and deletes every 50 ms.
            let migration = Migration::new(controllers, ticks(100), ticks(50), cfg.unsafe_bug)
                .context("starting the migration client")?;
            node.run::<Group, _>(down, &opts, migration).await
        }
    };
    done.with_context(|| format!("node {id} failed"))?;
    Ok(())
}

/// Waits for SIGTERM or SIGINT and names it.
async fn wait_for_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}
