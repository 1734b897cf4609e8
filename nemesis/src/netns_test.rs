//! Real namespaces, real iptables, real TCP between namespaces (needs root; skips without).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

use super::*;
use crate::state::Registry;

/// Runs `f` on a fresh thread that has entered namespace `ns`. Sockets made there stay in
/// that namespace.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace file");
        setns(&file, CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("thread in namespace")
}

fn reaches(ns: &str, to: SocketAddr) -> bool {
    in_ns(ns, move || {
        let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_millis(1500)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(1500)));
        let mut buf = [0u8; 4];
        s.write_all(b"ping").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"ping"
    })
}

fn iptables_save(ns: &str) -> String {
    run(&["ip", "netns", "exec", ns, "iptables-save"]).unwrap()
}

#[test]
fn drop_grudge_cuts_exactly_the_named_source_and_cleanup_leaves_nothing() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: the netns backend needs root");
        return;
    }
    let reg = Registry::create(std::path::Path::new("/bin/true"), true, &existing_tags()).unwrap();
    let tag = reg.tag.clone();
    let net = Netns::create(&tag, 3).expect("namespaces");
    assert!(run(&["ip", "netns", "list"]).unwrap().contains(&ns_name(&tag, 3)));

    // An echo server inside n1's namespace.
    let target = SocketAddr::from((net.ips[0], 9000));
    let listener = in_ns(&net.namespaces[0], move || TcpListener::bind(target).unwrap());
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let mut buf = [0u8; 4];
                    if s.read_exact(&mut buf).is_ok() {
                        let _ = s.write_all(&buf);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });

    assert!(reaches(&net.namespaces[1], target), "n2 reaches n1");
    assert!(reaches(&net.namespaces[2], target), "n3 reaches n1");

    // n1 drops what n2 sends: n2 cannot reach n1, n3 still can.
    assert_eq!(net.set_cut(&BTreeSet::from([(1, 0)])).unwrap(), 0, "nothing was cut before");
    let rules = iptables_save(&net.namespaces[0]);
    assert!(rules.contains(&format!("-A FL-PART -s {}/32 -j DROP", net.ips[1])), "{rules}");
    assert!(!reaches(&net.namespaces[1], target), "n2 cut from n1");
    assert!(reaches(&net.namespaces[2], target), "n3 not named in the grudge");

    // Loss rules use iptables' statistic match; setting 0 removes them.
    net.set_loss(0.2).unwrap();
    assert!(iptables_save(&net.namespaces[2]).contains("--mode random --probability 0.2"));
    net.set_loss(0.0).unwrap();
    assert!(!iptables_save(&net.namespaces[2]).contains("statistic"));

    // Healing reports what the cut dropped: n2's connection attempts (SYN retries) at least.
    let dropped = net.set_cut(&BTreeSet::new()).unwrap();
    assert!(dropped > 0, "the cut dropped n2's packets, yet counted {dropped}");
    assert!(!iptables_save(&net.namespaces[0]).contains("DROP"));
    assert!(reaches(&net.namespaces[1], target), "healed");

    stop.store(true, Ordering::SeqCst);
    server.join().unwrap();
    net.destroy();
    reg.remove();
    let left = run(&["ip", "netns", "list"]).unwrap();
    assert!(!left.contains(&format!("fl{tag}")), "namespaces left: {left}");
    let links = run(&["ip", "-o", "link", "show"]).unwrap();
    assert!(!links.contains(&format!("fl{tag}")), "links left: {links}");
}

#[test]
fn stale_namespaces_of_a_dead_run_are_swept() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: the netns backend needs root");
        return;
    }
    // A namespace named like ours with no live run behind it (as after a crash).
    let tag = "fffe";
    let _ = run(&["ip", "netns", "add", &ns_name(tag, 1)]);
    let _ = run(&["ip", "link", "add", &bridge_name(tag), "type", "bridge"]);
    let cleaned = crate::host::sweep_stale(true);
    assert!(cleaned.contains(&tag.to_string()), "{cleaned:?}");
    assert!(!run(&["ip", "netns", "list"]).unwrap().contains("flfffe"));
    assert!(!run(&["ip", "-o", "link", "show"]).unwrap().contains("flfffe"));
}
