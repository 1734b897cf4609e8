//! Workers: `concurrency` tasks that take operations from the shared generator at the target
//! rate, perform them through their process's client, and record invoke and completion.
//!
//! ```text
//!   Pacer (global rate) ─┐
//!   Generator (seeded) ──┼──▶ worker w: process p ──invoke──▶ Client ──▶ Outcome ──complete──▶ Recorder
//!                        │        on Unknown (info): p += concurrency, fresh client
//!   stop / time limit ───┘
//!   afterwards: final_reads(every key used) on the same workers
//! ```
//! Process numbers follow Jepsen: worker `w` starts as process `w`; after an `info` it
//! continues as `w + concurrency`, then `w + 2·concurrency`, ... so numbers are never reused.
// Workers wait for their rate slot and between final-read retries (tokio's clock, real time).
#![allow(clippy::disallowed_methods)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::client::{Client, Clients};
use crate::generator::Generator;
use crate::op::{Op, Outcome};
use crate::recorder::Recorder;

/// Spaces operations so that all workers together stay at or under a target rate.
#[derive(Debug)]
pub struct Pacer {
    /// Time between two operations; zero means no limit.
    interval: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// A pacer for `rate` operations per second in total (0 = unlimited).
    pub fn new(rate: f64) -> Self {
        let interval =
            if rate > 0.0 { Duration::from_secs_f64(1.0 / rate) } else { Duration::ZERO };
        Pacer { interval, next: Mutex::new(Instant::now()) }
    }

    /// Waits for the next free slot. Slots missed while everyone was blocked are not made
    /// up later (no bursts after a partition heals).
    pub async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let slot = {
            // Only assignments happen under this lock, so a poisoned one is still valid.
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One worker: its slot, its current process number and that process's client.
#[derive(Debug)]
pub struct Worker {
    slot: u64,
    process: u64,
    client: Client,
}

impl Worker {
    /// The worker's current process number.
    pub fn process(&self) -> u64 {
        self.process
    }
}

pub use faultline_api::FinalReads;

/// The shared state of one workload run.
#[derive(Debug)]
pub struct WorkloadRun {
    generator: Mutex<Generator>,
    pacer: Pacer,
    clients: Clients,
    recorder: Recorder,
    concurrency: u64,
}

impl WorkloadRun {
    /// A run of `generator` through `clients`, recorded by `recorder`.
    pub fn new(
        generator: Generator,
        clients: Clients,
        recorder: Recorder,
        concurrency: usize,
        rate: f64,
    ) -> Arc<Self> {
        Arc::new(WorkloadRun {
            generator: Mutex::new(generator),
            pacer: Pacer::new(rate),
            clients,
            recorder,
            concurrency: concurrency.max(1) as u64,
        })
    }

    fn generator(&self) -> MutexGuard<'_, Generator> {
        // The generator is only mutated by next_op, which does not panic midway in a way
        // that breaks its invariants; a poisoned lock is still usable.
        self.generator.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key used so far, in first-use order.
    pub fn keys(&self) -> Vec<String> {
        self.generator().keys().to_vec()
    }

    /// Operations generated so far.
    pub fn generated(&self) -> u64 {
        self.generator().generated()
    }

    /// The recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Runs `concurrency` workers until `until`, or until `stop` turns true; operations in
    /// flight then still complete (each is bounded by the client's operation timeout).
    /// Returns the workers, for [`WorkloadRun::final_reads`].
    pub async fn run(self: &Arc<Self>, until: Instant, stop: watch::Receiver<bool>) -> Vec<Worker> {
        let mut tasks = Vec::new();
        for slot in 0..self.concurrency {
            let run = self.clone();
            let mut stop = stop.clone();
            let mut worker = Worker { slot, process: slot, client: self.clients.open(slot) };
            tasks.push(tokio::spawn(async move {
                loop {
                    if *stop.borrow() || Instant::now() >= until {
                        break;
                    }
                    tokio::select! {
                        _ = run.pacer.wait() => {}
                        _ = tokio::time::sleep_until(until) => break,
                        _ = stop.changed() => break,
                    }
                    let op = run.generator().next_op();
                    run.perform(&mut worker, &op).await;
                }
                worker
            }));
        }
        let mut workers = Vec::new();
        for t in tasks {
            match t.await {
                Ok(w) => workers.push(w),
                Err(e) => tracing::error!("worker task failed: {e}"),
            }
        }
        workers.sort_by_key(|w| w.slot);
        workers
    }

    /// Performs `op` on `worker`'s process and records it; retires the process on `info`.
    pub async fn perform(&self, worker: &mut Worker, op: &Op) -> Outcome {
        self.recorder.invoke(worker.process, op);
        let outcome = worker.client.call(op).await;
        self.recorder.complete(worker.process, op, &outcome);
        if outcome.is_unknown() {
            worker.process += self.concurrency;
            worker.client = self.clients.open(worker.process);
        }
        outcome
    }

    /// Reads every key used, spread over `workers`, retrying each until it reads `ok` or
    /// `deadline` passes.
    pub async fn final_reads(
        self: &Arc<Self>,
        workers: Vec<Worker>,
        deadline: Instant,
    ) -> FinalReads {
        let keys: VecDeque<String> = self.keys().into();
        let queue = Arc::new(Mutex::new(keys));
        let mut tasks = Vec::new();
        for mut worker in workers {
            let run = self.clone();
            let queue = queue.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = FinalReads::default();
                loop {
                    // Plain pops only: a poisoned lock is still valid.
                    let key = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(key) = key else { break };
                    let op = run.generator().final_read(&key);
                    let mut tries = 0u32;
                    loop {
                        if Instant::now() >= deadline {
                            out.missed.push(key);
                            break;
                        }
                        if let Outcome::Ok(_) = run.perform(&mut worker, &op).await {
                            out.read += 1;
                            break;
                        }
                        tries += 1;
                        let wait = Duration::from_millis(100 * u64::from(tries.min(10)));
                        tokio::time::sleep_until((Instant::now() + wait).min(deadline)).await;
                    }
                }
                out
            }));
        }
        let mut all = FinalReads::default();
        for t in tasks {
            match t.await {
                Ok(r) => {
                    all.read += r.read;
                    all.missed.extend(r.missed);
                }
                Err(e) => tracing::error!("final-read task failed: {e}"),
            }
        }
        all.missed.sort();
        all
    }
}
