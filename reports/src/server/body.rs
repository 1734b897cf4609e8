//! Request bodies, read with bounded memory: a size limit enforced before reading (an honest
//! `Content-Length` over it is refused at once) and while streaming (a chunked body is cut
//! at the limit), histories streamed to a file rather than held in memory, and a limit on
//! body-carrying requests in flight.
//!
//! ```text
//!  POST ─▶ in_flight (503 when N bodies are being handled) ─▶ handler
//!     handler: to_vec(limit)  — small bodies (test specs)
//!              to_file(limit) — histories: store/.uploads/<n>.part, removed unless kept
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::ApiError;

/// 503 (with `Retry-After`) when `limit` requests with bodies are already being handled.
pub(crate) async fn in_flight(
    State(gate): State<Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    // Held until the handler's response is built (the body is read by then).
    let Ok(_permit) = gate.try_acquire() else {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight; try again shortly",
        )
        .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    next.run(req).await
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

/// Feeds the body's chunks to `sink`, stopping with 413 once more than `limit` bytes came.
async fn stream(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, ApiError> {
    check_declared(headers, limit, what)?;
    let mut total = 0u64;
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("reading the {what}: {e}"))
        })?;
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

/// The whole body in memory, at most `limit` bytes (for small bodies).
pub(crate) async fn to_vec(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let mut buf = Vec::new();
    stream(headers, body, limit, what, |c| {
        buf.extend_from_slice(c);
        Ok(())
    })
    .await?;
    Ok(buf)
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

/// Streams the body into a fresh file under `<store>/.uploads/`, at most `limit` bytes.
/// Writes are small and sequential (to the page cache), so they are done inline.
pub(crate) async fn to_file(
    store: &Path,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    what: &str,
) -> Result<Upload, ApiError> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let internal = |e: std::io::Error| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("storing the {what}: {e}"))
    };
    check_declared(headers, limit, what)?;
    let dir = store.join(".uploads");
    std::fs::create_dir_all(&dir).map_err(internal)?;
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let upload = Upload { path: dir.join(format!("{}-{n}.part", std::process::id())), kept: false };
    let file = std::fs::File::create(&upload.path).map_err(internal)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    stream(headers, body, limit, what, |c| out.write_all(c)).await?;
    out.flush().map_err(internal)?;
    Ok(upload)
}
