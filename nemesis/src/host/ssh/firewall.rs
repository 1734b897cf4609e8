//! Partitions and packet loss on remote hosts: iptables rules in two chains of faultline's
//! own per run (`FLP-<tag>` for partitions, `FLL-<tag>` for loss), each jumped to from the
//! top of `INPUT`, so removing them removes exactly what faultline added. The rule shapes
//! are the netns backend's: host `j` drops what comes from `i`'s address.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::conn::Conn;
use crate::network::Network;
use crate::{Error, FaultOutcome};

/// The run's chains on every host.
#[derive(Debug)]
pub(crate) struct Firewall {
    conns: Vec<Arc<Conn>>,
    /// The run's tag, which the chain names carry.
    tag: String,
    part: String,
    loss: String,
    /// Packets the partition rules dropped, counted when they were replaced.
    dropped: AtomicU64,
}

/// The chain names of the run tagged `tag`.
pub(crate) fn chains(tag: &str) -> [String; 2] {
    [format!("FLP-{tag}"), format!("FLL-{tag}")]
}

/// A script that removes the chains of `tag` (idempotent).
pub(crate) fn remove_script(tag: &str) -> String {
    chains(tag)
        .iter()
        .map(|c| {
            format!(
                "while iptables -w -D INPUT -j {c} 2>/dev/null; do :; done; \
                 iptables -w -F {c} 2>/dev/null; iptables -w -X {c} 2>/dev/null"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
        + "; true"
}

impl Firewall {
    /// Makes the chains on every host.
    ///
    /// # Errors
    /// iptables is missing or refused (not root and no sudo).
    pub fn create(conns: Vec<Arc<Conn>>, tag: &str) -> Result<Firewall, Error> {
        let [part, loss] = chains(tag);
        let fw = Firewall { conns, tag: tag.into(), part, loss, dropped: AtomicU64::new(0) };
        for c in &fw.conns {
            c.run_privileged(&format!(
                "{rm}; iptables -w -N {p} && iptables -w -N {l} && \
                 iptables -w -I INPUT 1 -j {l} && iptables -w -I INPUT 1 -j {p}",
                rm = remove_script(tag),
                p = fw.part,
                l = fw.loss
            ))?;
        }
        Ok(fw)
    }
}

impl Firewall {
    /// Runs `scripts[k]` as root on host `k`, every host at once (one round trip in all, not
    /// one per host); their outputs in host order.
    fn on_every_host(&self, scripts: &[String]) -> Result<Vec<String>, Error> {
        std::thread::scope(|s| {
            let runs: Vec<_> = self
                .conns
                .iter()
                .zip(scripts)
                .map(|(c, script)| s.spawn(move || c.run_privileged(script)))
                .collect();
            runs.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error::Spec("iptables thread".into()))))
                .collect()
        })
    }
}

impl Network for Firewall {
    fn set_cut(&self, cut: &BTreeSet<(usize, usize)>) -> Result<FaultOutcome, Error> {
        // One round trip per host, all hosts at once: the counters of the rules being
        // replaced (the listing's rule lines), then the new rules.
        let scripts: Vec<String> = (0..self.conns.len())
            .map(|to| {
                let mut script =
                    format!("iptables -w -L {p} -v -x -n && iptables -w -F {p}", p = self.part);
                for &(from, _) in cut.iter().filter(|(_, t)| *t == to) {
                    let src = self.conns[from].spec.ip;
                    script.push_str(&format!(" && iptables -w -A {} -s {src} -j DROP", self.part));
                }
                script
            })
            .collect();
        for listing in self.on_every_host(&scripts)? {
            self.dropped.fetch_add(crate::netns::packets(&listing), Ordering::Relaxed);
        }
        Ok(FaultOutcome::Installed)
    }

    fn cut_traffic(&self) -> Option<u64> {
        Some(self.dropped.load(Ordering::Relaxed))
    }

    fn set_loss(&self, p: f64) -> Result<FaultOutcome, Error> {
        let scripts: Vec<String> = (0..self.conns.len())
            .map(|k| {
                let mut script = format!("iptables -w -F {}", self.loss);
                if p > 0.0 {
                    for (_, other) in self.conns.iter().enumerate().filter(|(j, _)| *j != k) {
                        script.push_str(&format!(
                            " && iptables -w -A {} -s {} -m statistic --mode random \
                             --probability {p} -j DROP",
                            self.loss, other.spec.ip
                        ));
                    }
                }
                script
            })
            .collect();
        self.on_every_host(&scripts)?;
        Ok(FaultOutcome::Installed)
    }

    fn set_delay(&self, _delay: Duration) -> Result<FaultOutcome, Error> {
        Ok(FaultOutcome::Skipped(
            "link delay needs the local backend (its proxies hold the bytes)".into(),
        ))
    }

    fn shutdown(&self) {
        for c in &self.conns {
            if let Err(e) = c.run_privileged(&remove_script(&self.tag)) {
                tracing::warn!("removing faultline's iptables chains on {}: {e}", c.spec.addr);
            }
        }
    }
}
