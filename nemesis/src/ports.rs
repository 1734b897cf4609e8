//! Ports for nodes on one machine: free ones, below the kernel's ephemeral range, confined
//! to [`PORT_RANGE_ENV`]'s range when a campaign runs several cells at once.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering};

use crate::Error;

/// Next candidate port; starts at a pid-dependent place in 20000..32000 (below Linux's
/// ephemeral range, so the kernel does not hand it to an outgoing connection meanwhile).
static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// Set to `LO-HI` (e.g. `20000-23999`), it confines this process' ports to that range: a
/// campaign running several cells at once gives each a disjoint range, so that two runs can
/// never pick the same port between probing it and their node binding it.
pub const PORT_RANGE_ENV: &str = "FAULTLINE_PORT_RANGE";

/// The candidate range: [`PORT_RANGE_ENV`]'s, or 20000..32000.
fn port_range() -> (u16, u16) {
    let parsed = std::env::var(PORT_RANGE_ENV).ok().and_then(|r| {
        let (lo, hi) = r.split_once('-')?;
        let (lo, hi): (u16, u16) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
        (1024 <= lo && lo < hi).then_some((lo, hi - lo + 1))
    });
    if let Some((lo, span)) = parsed {
        warn_if_ephemeral(lo, lo.saturating_add(span - 1));
    }
    parsed.unwrap_or((20_000, 12_000))
}

/// Warns (once) when `lo..=hi` overlaps the kernel's ephemeral port range: outgoing
/// connections (clients, proxies) take ports there at any time, so a node may find its port
/// taken between the probe and its bind, and the run fails to start.
fn warn_if_ephemeral(lo: u16, hi: u16) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let Ok(text) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        return;
    };
    let mut it = text.split_whitespace().filter_map(|w| w.parse::<u16>().ok());
    if let (Some(elo), Some(ehi)) = (it.next(), it.next()) {
        if lo <= ehi && elo <= hi {
            WARNED.call_once(|| {
                tracing::warn!(
                    "{PORT_RANGE_ENV}={lo}-{hi} overlaps the kernel's ephemeral ports \
                     {elo}-{ehi}: a node may find its port taken by an outgoing connection; \
                     choose a range below {elo}"
                );
            });
        }
    }
}

/// A port on `ip` that nobody listens on right now. Candidates below the ephemeral range,
/// tried in turn, checked by binding; each process hands a port out once.
pub(crate) fn free_port(ip: Ipv4Addr) -> Result<u16, Error> {
    let (lo, span) = port_range();
    let _ = NEXT_PORT.compare_exchange(
        0,
        lo + (std::process::id() % u32::from(span)) as u16,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let p = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        let port = lo + p.wrapping_sub(lo) % span;
        if TcpListener::bind((ip, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(Error::NoPort(ip.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let a = free_port(Ipv4Addr::LOCALHOST).unwrap();
        let b = free_port(Ipv4Addr::LOCALHOST).unwrap();
        assert_ne!(a, b);
        assert!((20_000..32_000).contains(&a));
        // Another test of this binary may hold it for a moment (free_port only probes).
        let bindable = (0..100).any(|_| {
            let ok = TcpListener::bind((Ipv4Addr::LOCALHOST, a)).is_ok();
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            ok
        });
        assert!(bindable, "port {a} stayed in use");
    }
}
