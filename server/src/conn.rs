//! The accept loop: the router on hyper's HTTP/1 connections, with the bounds `axum::serve`
//! does not set, so slow or idle clients cannot hold the server.
//!
//! ```text
//!  listener ─accept─▶ connection cap (MAX_CONNECTIONS; beyond: closed at once)
//!     ─▶ hyper http1: headers within `header_timeout` (else the connection is closed)
//!     ─▶ router (bodies: `body::stream` bounds their time)      shutdown ─▶ stop accepting,
//!                                                                 drain for at most DRAIN
//! ```
// Real connections and real waiting: this is an I/O module.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once; one more is closed as soon as it is accepted.
pub const MAX_CONNECTIONS: usize = 512;

/// How long open connections (event streams among them) may take to finish after shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` resolves. A client must send a request's
/// headers within `header_timeout` of starting it (idle keep-alive connections included).
///
/// # Errors
/// None today: a failed accept is logged and retried (descriptors can run out for a moment).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!("{MAX_CONNECTIONS} connections open: closing a new one");
            continue;
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open {DRAIN:?} after shutdown: closing them");
    }
    Ok(())
}
