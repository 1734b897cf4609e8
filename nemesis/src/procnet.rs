//! Which process owns the dialing end of a TCP connection (Linux `/proc`).
//!
//! ```text
//! accepted conn: peer 127.0.0.1:51234 -> us 127.0.0.1:40001
//!   /proc/net/tcp{,6}: row local=127.0.0.1:51234 rem=127.0.0.1:40001 -> inode 98765
//!   /proc/<pid>/fd/*  -> "socket:[98765]" ? -> that pid is the dialer
//! ```
//!
//! The local backend needs this for etcd: every member dials the *same* advertised peer
//! URL of a destination, so one proxy per destination cannot tell dialers apart by the
//! address they dialed; it tells them apart by the process that owns the connecting socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Finds the inode of the socket whose local end is `dialer` and remote end is `listener`.
pub(crate) fn socket_inode(dialer: SocketAddr, listener: SocketAddr) -> Option<u64> {
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 {
                continue;
            }
            let (Some(local), Some(remote)) = (parse_addr(cols[1]), parse_addr(cols[2])) else {
                continue;
            };
            if same(local, dialer) && same(remote, listener) {
                return cols[9].parse().ok();
            }
        }
    }
    None
}

/// Which of `pids` holds a file descriptor for socket `inode`.
pub(crate) fn owner_of(inode: u64, pids: &[(u32, usize)]) -> Option<usize> {
    let needle = format!("socket:[{inode}]");
    for &(pid, node) in pids {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for entry in dir.flatten() {
            if std::fs::read_link(entry.path()).is_ok_and(|t| t.as_os_str() == needle.as_str()) {
                return Some(node);
            }
        }
    }
    None
}

/// `dialer`'s owning node among `pids` (pid, node index), if found.
pub(crate) fn dialer_node(
    dialer: SocketAddr,
    listener: SocketAddr,
    pids: &[(u32, usize)],
) -> Option<usize> {
    owner_of(socket_inode(dialer, listener)?, pids)
}

fn same(a: SocketAddr, b: SocketAddr) -> bool {
    let canon = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canon(a.ip()) == canon(b.ip())
}

/// Parses `0100007F:1F90` (IPv4, little-endian words) or the 32-hex-digit IPv6 form.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.swap_bytes())),
        32 => {
            let mut bytes = [0u8; 16];
            for w in 0..4 {
                let word = u32::from_str_radix(&ip[w * 8..w * 8 + 8], 16).ok()?;
                bytes[w * 4..w * 4 + 4].copy_from_slice(&word.swap_bytes().to_be_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_net_addresses() {
        assert_eq!(parse_addr("0100007F:1F90"), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(
            parse_addr("0000000000000000FFFF00000100007F:0050"),
            Some("[::ffff:127.0.0.1]:80".parse().unwrap())
        );
    }

    #[test]
    fn finds_our_own_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let me = std::process::id();
        assert_eq!(dialer_node(peer, l.local_addr().unwrap(), &[(1, 0), (me, 7)]), Some(7));
        assert_eq!(dialer_node(peer, l.local_addr().unwrap(), &[(1, 0)]), None);
    }
}
