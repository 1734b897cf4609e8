//! `faultline serve`: serves the store's index and reports and the JSON API (see
//! `faultline_server` for the routes and its defences). Binds 127.0.0.1 unless given
//! a token; answers only to loopback host names unless given `--allow-host`.
//!
//! ```text
//!  flags ─▶ ServerConfig ─▶ server::serve ─── SIGINT / SIGTERM / SIGHUP ─▶ cancel the queue
//!           and the running run (its cluster removed) ─▶ graceful stop
//! ```
// Runs the HTTP server: real sockets and a tokio runtime.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use faultline_server::{self as server, AppState, HostPolicy, ServerConfig};

use crate::runner::signals::Interrupts;
use crate::Exit;

/// Arguments of `faultline serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store directory (as written by `faultline run`).
    #[arg(long, default_value = "store", value_name = "DIR")]
    pub store: PathBuf,
    /// Address to listen on. Anything but loopback needs --token.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub addr: SocketAddr,
    /// Require the token on every request (API calls, pages and files): `Authorization:
    /// Bearer <TOKEN>`, or open a page once with `?token=<TOKEN>` in a browser.
    #[arg(long, env = "FAULTLINE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A host name (NAME or NAME:PORT) the server answers to besides localhost, 127.0.0.1
    /// and `[::1]` on its port; repeatable. Requests naming any other host get 421.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Largest history `POST /api/check` accepts, in MiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536), value_name = "MIB")]
    pub max_history_mib: u32,
    /// Time limit of one `POST /api/check`, in seconds (then the verdict is unknown).
    #[arg(long, default_value_t = 300.0, value_name = "S")]
    pub check_time_limit: f64,
    /// Requests with a body (checks, run specs) handled at once; more get 503.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024), value_name = "N")]
    pub max_in_flight: u32,
    /// Runs queued or running at once (and campaigns queued or running at once); more get
    /// 429.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10000), value_name = "N")]
    pub max_queued_runs: u32,
    /// A directory whose programs posted specs and campaigns may run as Maelstrom nodes
    /// (`node-cmd`, the program named by its absolute path); repeatable. Without it
    /// `node-cmd` is refused like the other server paths.
    #[arg(long = "allow-node-cmd-dir", value_name = "DIR")]
    pub node_cmd_dirs: Vec<PathBuf>,
}

/// Runs `faultline serve` until SIGINT, SIGTERM or SIGHUP.
///
/// # Errors
/// A non-loopback address without a token, a bad `--allow-host`, a store that is not a
/// directory, or an address that cannot be bound.
pub fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    server::check_bind(&args.addr, args.token.as_deref()).map_err(anyhow::Error::msg)?;
    HostPolicy::new(Some(args.addr), &args.allow_hosts).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&args.store)
        .with_context(|| format!("creating the store {}", args.store.display()))?;
    let check_limit = std::time::Duration::try_from_secs_f64(args.check_time_limit)
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs() <= 7 * 86_400)
        .context("--check-time-limit must be a positive number of seconds, at most a week")?;
    let mut config = ServerConfig::new(&args.store);
    config.token = args.token.clone();
    config.max_history_bytes = (args.max_history_mib as usize) << 20;
    config.check_time_limit = check_limit;
    config.allowed_hosts = args.allow_hosts.clone();
    config.max_in_flight = args.max_in_flight as usize;
    config.max_queued_runs = args.max_queued_runs as usize;
    config.campaign_parser = Some(crate::campaign::file::parse);
    for d in &args.node_cmd_dirs {
        anyhow::ensure!(d.is_dir(), "--allow-node-cmd-dir {}: not a directory", d.display());
    }
    config.node_cmd_dirs = args.node_cmd_dirs.clone();
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async move {
        // Registered first: from here on these signals stop the server cleanly.
        let mut signals = Interrupts::register().context("installing the signal handlers")?;
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        eprintln!(
            "faultline serve: store {} at http://{addr}/{}",
            args.store.display(),
            if args.token.is_some() { " (API needs the bearer token)" } else { "" }
        );
        let state = AppState::new(config);
        let shutdown = {
            let state = state.clone();
            async move {
                let sig = signals.recv().await;
                eprintln!("faultline serve: {sig}: cancelling runs, then stopping");
                state.shutdown().await;
            }
        };
        server::serve(listener, state, shutdown).await.context("serving")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Pass)
}
