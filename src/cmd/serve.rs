//! `faultline serve`: serves the store's index and reports and the JSON API (see
//! `faultline_reports::server` for the routes). Binds 127.0.0.1 unless given a token.
// Runs the HTTP server: real sockets and a tokio runtime.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use faultline_reports::server::{self, AppState, ServerConfig};

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
    /// Require `Authorization: Bearer <TOKEN>` on every /api/ request.
    #[arg(long, env = "FAULTLINE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest history `POST /api/check` accepts, in MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_history_mib: usize,
    /// Time limit of one `POST /api/check`, in seconds (then the verdict is unknown).
    #[arg(long, default_value_t = 300.0, value_name = "S")]
    pub check_time_limit: f64,
}

/// Runs `faultline serve` until Ctrl-C.
///
/// # Errors
/// A non-loopback address without a token, a store that is not a directory, or an address
/// that cannot be bound.
pub fn run(args: ServeArgs) -> anyhow::Result<Exit> {
    server::check_bind(&args.addr, args.token.as_deref()).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(&args.store)
        .with_context(|| format!("creating the store {}", args.store.display()))?;
    if !(args.check_time_limit.is_finite() && args.check_time_limit > 0.0) {
        anyhow::bail!("--check-time-limit must be a positive number of seconds");
    }
    let mut config = ServerConfig::new(&args.store);
    config.token = args.token.clone();
    config.max_history_bytes = args.max_history_mib.saturating_mul(1 << 20);
    config.check_time_limit = std::time::Duration::from_secs_f64(args.check_time_limit);
    let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("binding {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        eprintln!(
            "faultline serve: store {} at http://{addr}/{}",
            args.store.display(),
            if args.token.is_some() { " (API needs the bearer token)" } else { "" }
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server::serve(listener, AppState::new(config), shutdown).await.context("serving")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Pass)
}
