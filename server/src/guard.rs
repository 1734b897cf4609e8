//! The server's outer defences, applied to every route: the Host allow-list (DNS rebinding),
//! the Origin allow-list for state-changing requests (a foreign page posting through the
//! user's browser), and panic containment.
//!
//! ```text
//!  request ─▶ catch_panic ─▶ check_host (421 unless Host names an allowed host and port)
//!          ─▶ check_origin (POST/DELETE/...: 403 for a foreign or "null" Origin; none is fine)
//!          ─▶ routes
//! ```
//! A DNS-rebinding page reaches the server under the attacker's name (`Host: evil.example`);
//! a cross-site page posts with `Origin: https://evil.example` — both are refused. Clients
//! that are not browsers (curl, scripts) send no Origin and are unaffected.

use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use crate::ApiError;

/// A host the server answers to: a name (lowercase, IPv6 in brackets) and the port it must
/// come with (`None`: any port, when the bound port is not known).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    name: String,
    port: Option<u16>,
}

/// Which `Host` and `Origin` values the server accepts.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    allowed: Vec<Allowed>,
}

/// `localhost`, `127.0.0.1` and `[::1]`: the names every loopback server answers to.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Splits `name[:port]` / `[v6]:port`; lowercases the name and drops one trailing dot.
fn split_host(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    let (name, port) = if s.starts_with('[') {
        let end = s.find(']')?;
        let rest = &s[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&s[..=end], port)
    } else {
        match s.rsplit_once(':') {
            Some((n, p)) => (n, Some(p.parse().ok()?)),
            None => (s, None),
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    valid.then_some((name, port))
}

impl HostPolicy {
    /// The loopback names, the bound address itself when it is a specific one, and `extra`
    /// (`NAME` or `NAME:PORT`; a name without a port takes the bound port). `bound` is `None`
    /// when the router is used without a socket (tests): any port is accepted then.
    ///
    /// # Errors
    /// An `extra` entry that is not a host name or `name:port`.
    pub fn new(bound: Option<SocketAddr>, extra: &[String]) -> Result<HostPolicy, String> {
        let port = bound.map(|a| a.port());
        let mut allowed: Vec<Allowed> =
            LOOPBACK_NAMES.iter().map(|n| Allowed { name: (*n).to_string(), port }).collect();
        if let Some(a) = bound.filter(|a| !a.ip().is_unspecified() && !a.ip().is_loopback()) {
            let name = match a.ip() {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            allowed.push(Allowed { name, port });
        }
        for e in extra {
            let (name, p) = split_host(e)
                .ok_or_else(|| format!("--allow-host {e:?}: expected a host name or NAME:PORT"))?;
            allowed.push(Allowed { name, port: p.or(port) });
        }
        Ok(HostPolicy { allowed })
    }

    /// Whether `name` with `port` is allowed; `port: None` (a Host header without a port, as
    /// a proxy may send) matches the name alone.
    fn allows(&self, name: &str, port: Option<u16>) -> bool {
        self.allowed.iter().any(|a| {
            a.name == name
                && match (port, a.port) {
                    (Some(p), Some(q)) => p == q,
                    _ => true,
                }
        })
    }

    /// Checks a `Host` header value.
    pub fn allows_host(&self, host: &str) -> bool {
        split_host(host).is_some_and(|(n, p)| self.allows(&n, p))
    }

    /// Checks an `Origin` header value (`scheme://host[:port]`; the port defaults by scheme).
    pub fn allows_origin(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.trim().split_once("://") else {
            return false; // "null" (sandboxed or file pages) and anything else
        };
        let default = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        if rest.contains('/') {
            return false;
        }
        split_host(rest).is_some_and(|(n, p)| self.allows(&n, Some(p.unwrap_or(default))))
    }
}

/// 421 unless the request names an allowed host; 403 for a state-changing request from a
/// foreign origin.
pub(crate) async fn check_host(
    State(policy): State<std::sync::Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    // HTTP/1.1 puts it in `Host`, HTTP/2 in the URI's authority. A request with neither
    // comes from no browser (browsers always send one), so rebinding cannot use it.
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}").to_string())
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    if let Some(h) = host.filter(|h| !policy.allows_host(h)) {
        return ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "host {:?} is not served here (allowed: loopback names; add names with \
                 `faultline serve --allow-host NAME`)",
                cut(&h)
            ),
        )
        .into_response();
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let o = origin.to_str().unwrap_or("\u{fffd}");
            if !policy.allows_origin(o) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("origin {:?} may not {} here", cut(o), req.method()),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

/// A header value cut for an error message (a hostile one may be long).
fn cut(s: &str) -> String {
    s.chars().take(100).collect()
}

/// Turns a panic in a handler into a 500, so one bad request never takes the server down
/// (tokio would also survive it, but the client would see a dropped connection).
pub(crate) async fn catch_panic(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let msg = panic_message(&*panic);
            tracing::error!(path, "handler panicked: {msg}");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {msg}"))
                .into_response()
        }
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let bound: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let p = HostPolicy::new(Some(bound), &["fl.example".into(), "ci:9000".into()]).unwrap();
        #[rustfmt::skip]
        let hosts = [
            ("localhost:8080", true), ("LOCALHOST:8080", true), ("localhost.:8080", true),
            ("127.0.0.1:8080", true), ("[::1]:8080", true), ("localhost", true),
            ("localhost:8081", false), ("evil.example:8080", false), ("127.0.0.2:8080", false),
            ("fl.example:8080", true), ("fl.example", true), ("ci:9000", true),
            ("ci:8080", false), ("", false), ("local host:8080", false), ("[::1", false),
            ("localhost:99999", false), ("localhost:8080/x", false),
        ];
        for (h, ok) in hosts {
            assert_eq!(p.allows_host(h), ok, "Host {h:?}");
        }
        #[rustfmt::skip]
        let origins = [
            ("http://localhost:8080", true), ("http://127.0.0.1:8080", true),
            ("http://[::1]:8080", true), ("http://localhost", false), ("http://localhost:3000", false),
            ("https://evil.example", false), ("null", false), ("file://", false),
            ("http://fl.example:8080", true), ("http://localhost:8080/path", false),
        ];
        for (o, ok) in origins {
            assert_eq!(p.allows_origin(o), ok, "Origin {o:?}");
        }
        assert!(HostPolicy::new(None, &["a/b".into()]).is_err());
        let any_port = HostPolicy::new(None, &[]).unwrap();
        assert!(any_port.allows_host("localhost:1234") && !any_port.allows_host("evil:1234"));
        let lan: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        assert!(HostPolicy::new(Some(lan), &[]).unwrap().allows_host("10.1.2.3:8080"));
    }
}
