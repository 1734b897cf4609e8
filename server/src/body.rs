//! Request bodies, read with bounded memory and bounded time: a size limit enforced before
//! reading (an honest `Content-Length` over it is refused at once) and while streaming (a
//! chunked body is cut at the limit), a deadline for the whole body and for each gap between
//! its chunks (a client trickling a byte at a time is cut off), histories streamed to a file
//! rather than held in memory, and two gates: bodies being received, and requests being
//! handled once their body has fully arrived.
//!
//! ```text
//!  POST ─▶ handler ─▶ Bodies::to_vec / to_file
//!            receiving gate (RECEIVING_PER_SLOT × max-in-flight; 503 beyond)
//!            ─▶ stream: ≤ limit bytes, ≤ idle between chunks, ≤ total for the body
//!            ─▶ handling gate (max-in-flight; 503 beyond) ─▶ (body, Slot) ─▶ the work
//!  small bodies (test specs): to_vec     histories: to_file — store/.uploads/<n>.part,
//!                                                     removed unless kept
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use futures_util::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;

/// Bodies received at once, per request that may be handled at once.
pub const RECEIVING_PER_SLOT: usize = 8;

/// A request's place among those being handled: held until its response is built.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// The gates and deadlines every request body passes.
#[derive(Debug)]
pub(crate) struct Bodies {
    receiving: Arc<Semaphore>,
    handling: Arc<Semaphore>,
    /// Longest gap between two chunks of a body.
    idle: Duration,
    /// Longest time for a whole body.
    total: Duration,
}

fn busy(what: &str) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("too many {what}; try again shortly"))
        .retry_after("1")
}

impl Bodies {
    /// Gates for `max_in_flight` requests handled at once; bodies must come with gaps of at
    /// most `idle` and whole within `total`.
    pub(crate) fn new(max_in_flight: usize, idle: Duration, total: Duration) -> Bodies {
        let n = max_in_flight.max(1);
        Bodies {
            receiving: Arc::new(Semaphore::new(n * RECEIVING_PER_SLOT)),
            handling: Arc::new(Semaphore::new(n)),
            idle,
            total,
        }
    }

    /// Receives the body through `sink` under the gates and deadlines, then takes a slot.
    /// (Callers refuse an over-long declared length first, before preparing `sink`.)
    async fn receive(
        &self,
        body: Body,
        limit: usize,
        what: &str,
        sink: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<Slot, ApiError> {
        let receiving =
            self.receiving.clone().try_acquire_owned().map_err(|_| busy("uploads in progress"))?;
        let streamed = tokio::time::timeout(self.total, stream(body, limit, what, self.idle, sink));
        match streamed.await {
            Ok(r) => r?,
            Err(_) => return Err(too_slow(what, self.total)),
        };
        drop(receiving);
        let slot =
            self.handling.clone().try_acquire_owned().map_err(|_| busy("requests in flight"))?;
        Ok(Slot { _permit: slot })
    }

    /// The whole body in memory, at most `limit` bytes (for small bodies), and a slot.
    pub(crate) async fn to_vec(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
        what: &str,
    ) -> Result<(Vec<u8>, Slot), ApiError> {
        check_declared(headers, limit, what)?;
        let mut buf = Vec::new();
        let slot = self
            .receive(body, limit, what, |c| {
                buf.extend_from_slice(c);
                Ok(())
            })
            .await?;
        Ok((buf, slot))
    }

    /// Streams the body into a fresh file under `<store>/.uploads/`, at most `limit` bytes,
    /// and takes a slot. Writes are small and sequential (to the page cache), so they are
    /// done inline.
    pub(crate) async fn to_file(
        &self,
        store: &Path,
        headers: &HeaderMap,
        body: Body,
        limit: usize,
        what: &str,
    ) -> Result<(Upload, Slot), ApiError> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let internal = |e: std::io::Error| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storing the {what}: {e}"))
        };
        check_declared(headers, limit, what)?;
        let dir = store.join(".uploads");
        std::fs::create_dir_all(&dir).map_err(internal)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let upload =
            Upload { path: dir.join(format!("{}-{n}.part", std::process::id())), kept: false };
        let file = std::fs::File::create(&upload.path).map_err(internal)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        let slot = self.receive(body, limit, what, |c| out.write_all(c)).await?;
        out.flush().map_err(internal)?;
        Ok((upload, slot))
    }
}

fn too_slow(what: &str, after: Duration) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        format!("the {what} did not arrive in time (limit {after:?}); send it at once"),
    )
}

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the {what} is larger than the limit of {}", human(limit)),
    )
}

fn human(n: usize) -> String {
    if n >= 1 << 20 && n & ((1 << 20) - 1) == 0 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

/// Refuses before reading a byte when the declared length is over `limit`.
fn check_declared(headers: &HeaderMap, limit: usize, what: &str) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => Err(too_large(limit, what)),
        _ => Ok(()),
    }
}

/// Feeds the body's chunks to `sink`, stopping with 413 once more than `limit` bytes came,
/// and with 408 when no chunk comes for `idle`.
async fn stream(
    body: Body,
    limit: usize,
    what: &str,
    idle: Duration,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, ApiError> {
    let mut total = 0u64;
    let mut chunks = body.into_data_stream();
    loop {
        let next = tokio::time::timeout(idle, chunks.next()).await;
        let chunk = match next {
            Err(_) => return Err(too_slow(what, idle)),
            Ok(None) => break,
            Ok(Some(chunk)) => chunk.map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, format!("reading the {what}: {e}"))
            })?,
        };
        total += chunk.len() as u64;
        if total > limit as u64 {
            return Err(too_large(limit, what));
        }
        sink(&chunk).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storing the {what}: {e}"))
        })?;
    }
    Ok(total)
}

/// A body stored in a file under `<store>/.uploads/`, removed on drop unless [`Upload::keep`]
/// moved it (so a refused, failed or abandoned request leaves nothing behind).
#[derive(Debug)]
pub(crate) struct Upload {
    path: PathBuf,
    kept: bool,
}

impl Upload {
    /// The file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file to `dest`.
    pub(crate) fn keep(mut self, dest: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
