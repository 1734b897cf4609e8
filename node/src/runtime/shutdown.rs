//! Graceful shutdown: one trigger, many listeners (mini-redis `shutdown.rs`, on a `watch`).
//!
//! ```text
//!   SIGTERM / SIGINT / test ──▶ ShutdownTrigger::trigger ──▶ every Shutdown::recv returns
//! ```
//!
//! Tasks hold a [`Shutdown`] and `select!` on [`Shutdown::recv`] next to their work; the
//! trigger's owner then waits for the tasks it cares about (the runtime's main loop).

use tokio::sync::watch;

/// Fires the shutdown of every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Learns of shutdown. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its first listener.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Signals shutdown to every listener (idempotent).
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// A new listener.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Whether shutdown was signalled.
    pub fn is_shutdown(&self) -> bool {
        *self.0.borrow()
    }

    /// Waits until shutdown is signalled (or the trigger is dropped, which means the same).
    pub async fn recv(&mut self) {
        // `wait_for` returns Err only when the sender is gone: treat that as shutdown too.
        let _ = self.0.wait_for(|down| *down).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_listener_wakes() {
        let (trigger, a) = channel();
        let b = trigger.subscribe();
        let tasks: Vec<_> = [a, b]
            .into_iter()
            .map(|mut s| {
                tokio::spawn(async move {
                    s.recv().await;
                    s.is_shutdown()
                })
            })
            .collect();
        trigger.trigger();
        for t in tasks {
            assert!(t.await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_dropped_trigger_means_shutdown() {
        let (trigger, mut s) = channel();
        drop(trigger);
        s.recv().await;
    }
}
