//! The history recorder: stamps every event and streams it to `history.jsonl`.
//!
//! ```text
//!  workers ─┐ invoke / complete          ┌───────────── writer thread ─────────────┐
//!  nemesis ─┼──▶ Recorder ──(lock: time, index, send)──▶ channel ──▶ BufWriter ──▶ file
//!  ...     ─┘   (cheap clone)                            │ flush every 200 ms and at end
//!                                                          └──────────────────────────┘
//! ```
//! Time and index are taken under one short lock together with the send, so the order of
//! lines in the file, the order of `index` and the order of `time` are the same. The lock is
//! a std `Mutex` held only for a clock read and an unbounded send (never across an await).
//! The history is never held in memory: only the channel's backlog is — except by the
//! simulator's recorder ([`Recorder::simulated`]), which keeps its events and takes its time
//! from the simulation's virtual clock, so that the simulator writes histories as real runs
//! do.
// The recorder owns the run's one monotonic clock, so it reads `Instant::now`.
#![allow(clippy::disallowed_methods)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use faultline_api::FaultEvent;
use faultline_checker::{Event, EventKind, Process};
use serde_json::Value;

use crate::client::Served;
use crate::op::{Op, Outcome};

/// How often the writer flushes when events keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

pub use faultline_api::LiveCounts;

#[derive(Debug, Default)]
struct Counters {
    invoked: AtomicU64,
    ok: AtomicU64,
    fail: AtomicU64,
    info: AtomicU64,
    nemesis: AtomicU64,
}

/// Where events go.
#[derive(Debug)]
enum Sink {
    /// The writer thread of `history.jsonl`.
    File(mpsc::Sender<Event>),
    /// Kept, for [`Recorder::take_jsonl`] (the simulator).
    Memory(Vec<Event>),
}

#[derive(Debug)]
struct State {
    next_index: u64,
    /// `None` once closed: later events are dropped (and logged).
    sink: Option<Sink>,
    /// What a memory sink held when it was closed.
    kept: Vec<Event>,
}

/// Where event times come from.
#[derive(Debug)]
enum Clock {
    /// Real time since the run's start.
    Real(Instant),
    /// The virtual nanoseconds the simulator set last ([`Recorder::set_time`]).
    Virtual(AtomicU64),
}

#[derive(Debug)]
struct Inner {
    clock: Clock,
    state: Mutex<State>,
    counters: Counters,
}

/// A cheap, cloneable handle that records events (see the module docs).
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

/// The writer thread; [`HistoryWriter::finish`] waits for it to write everything.
#[derive(Debug)]
pub struct HistoryWriter {
    join: thread::JoinHandle<io::Result<u64>>,
}

impl Recorder {
    /// Creates `path` and starts the writer; `start` is the run's clock origin (`time` 0).
    ///
    /// # Errors
    /// The file cannot be created, or the thread cannot be spawned.
    pub fn create(path: &Path, start: Instant) -> io::Result<(Recorder, HistoryWriter)> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel::<Event>();
        let join = thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_loop(BufWriter::with_capacity(1 << 16, file), rx))?;
        let inner = Inner {
            clock: Clock::Real(start),
            state: Mutex::new(State {
                next_index: 0,
                sink: Some(Sink::File(tx)),
                kept: Vec::new(),
            }),
            counters: Counters::default(),
        };
        Ok((Recorder { inner: Arc::new(inner) }, HistoryWriter { join }))
    }

    /// The simulator's recorder: time is virtual ([`Recorder::set_time`], from 0) and the
    /// events stay in memory until [`Recorder::take_jsonl`].
    pub fn simulated() -> Recorder {
        let inner = Inner {
            clock: Clock::Virtual(AtomicU64::new(0)),
            state: Mutex::new(State {
                next_index: 0,
                sink: Some(Sink::Memory(Vec::new())),
                kept: Vec::new(),
            }),
            counters: Counters::default(),
        };
        Recorder { inner: Arc::new(inner) }
    }

    /// Moves a simulated recorder's clock to `t` since the run's start; time never goes
    /// back (an earlier `t` leaves it where it is). No effect on a real recorder.
    pub fn set_time(&self, t: Duration) {
        if let Clock::Virtual(ns) = &self.inner.clock {
            ns.fetch_max(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
    }

    /// Closes a simulated recorder and returns its history, one JSON object a line, as
    /// `history.jsonl` would hold it (empty for a real recorder, whose history is in its
    /// file).
    pub fn take_jsonl(&self) -> String {
        self.close();
        let events = std::mem::take(&mut self.lock().kept);
        let mut out = String::new();
        for e in &events {
            // An `Event` is plain data (strings, numbers, JSON values): it always serializes.
            if let Ok(line) = serde_json::to_string(e) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }

    /// Time since the run's start.
    pub fn elapsed(&self) -> Duration {
        match &self.inner.clock {
            Clock::Real(start) => start.elapsed(),
            Clock::Virtual(ns) => Duration::from_nanos(ns.load(Ordering::Relaxed)),
        }
    }

    /// Records the invocation of `op` by `process`.
    pub fn invoke(&self, process: u64, op: &Op) {
        self.inner.counters.invoked.fetch_add(1, Ordering::Relaxed);
        let none = Served::default();
        self.push(EventKind::Invoke, Process::Client(process), op, op.value.clone(), None, none);
    }

    /// Records the completion of `op` by `process`. `fail` and `info` keep the invoke's value,
    /// as Jepsen does; `ok` carries the result.
    pub fn complete(&self, process: u64, op: &Op, outcome: &Outcome, served: &Served) {
        let c = &self.inner.counters;
        let (kind, value, error) = match outcome {
            Outcome::Ok(v) => (EventKind::Ok, v.clone(), None),
            Outcome::Fail(e) => (EventKind::Fail, op.value.clone(), Some(e.clone())),
            Outcome::Unknown(e) => (EventKind::Info, op.value.clone(), Some(e.clone())),
        };
        match kind {
            EventKind::Ok => &c.ok,
            EventKind::Fail => &c.fail,
            _ => &c.info,
        }
        .fetch_add(1, Ordering::Relaxed);
        let served = if kind == EventKind::Info { Served::default() } else { served.clone() };
        self.push(kind, Process::Client(process), op, value, error, served);
    }

    /// Records a fault event (`"process":"nemesis","type":"info"`): its name from the one
    /// table of event names, its value with the outcome.
    pub fn nemesis(&self, ev: &FaultEvent) {
        self.inner.counters.nemesis.fetch_add(1, Ordering::Relaxed);
        self.send(|index, time| Event {
            index,
            kind: EventKind::Info,
            process: Process::Nemesis,
            f: ev.name.f().to_string(),
            key: None,
            value: ev.history_value(),
            time,
            error: None,
            node: None,
            term: None,
        });
    }

    /// The counters so far.
    pub fn counts(&self) -> LiveCounts {
        let c = &self.inner.counters;
        LiveCounts {
            invoked: c.invoked.load(Ordering::Relaxed),
            ok: c.ok.load(Ordering::Relaxed),
            fail: c.fail.load(Ordering::Relaxed),
            info: c.info.load(Ordering::Relaxed),
            nemesis: c.nemesis.load(Ordering::Relaxed),
        }
    }

    /// Stops recording: the writer finishes once the backlog is written. Later events are
    /// dropped with a warning (an operation still in flight after the run gave up on it
    /// stays pending in the history, which the checker reads as unknown).
    pub fn close(&self) {
        let mut state = self.lock();
        if let Some(Sink::Memory(events)) = state.sink.take() {
            state.kept = events;
        }
    }

    fn push(
        &self,
        kind: EventKind,
        p: Process,
        op: &Op,
        value: Value,
        error: Option<String>,
        served: Served,
    ) {
        self.send(|index, time| Event {
            index,
            kind,
            process: p,
            f: op.f.name().to_string(),
            key: Some(op.key.clone()),
            value,
            time,
            error,
            node: served.node,
            term: served.term,
        });
    }

    fn send(&self, make: impl FnOnce(u64, u64) -> Event) {
        let mut state = self.lock();
        let time = u64::try_from(self.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let event = make(state.next_index, time);
        match state.sink.as_mut() {
            None => {
                tracing::warn!("history closed: dropping a late event");
                return;
            }
            Some(Sink::Memory(events)) => events.push(event),
            Some(Sink::File(tx)) => {
                if tx.send(event).is_err() {
                    // The writer died on an I/O error; finish() reports it.
                    state.sink = None;
                    return;
                }
            }
        }
        state.next_index += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave State inconsistent (two plain
        // assignments), so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl HistoryWriter {
    /// Waits until every event recorded before [`Recorder::close`] (or before every
    /// `Recorder` was dropped) is written and flushed; returns the number of events.
    ///
    /// # Errors
    /// The first write error, or a panic of the writer thread.
    pub fn finish(self) -> io::Result<u64> {
        self.join.join().map_err(|_| io::Error::other("history writer thread panicked"))?
    }
}

fn write_loop(mut out: BufWriter<File>, rx: mpsc::Receiver<Event>) -> io::Result<u64> {
    let mut written = 0u64;
    let mut dirty = false;
    loop {
        match rx.recv_timeout(FLUSH_EVERY) {
            Ok(event) => {
                serde_json::to_writer(&mut out, &event)?;
                out.write_all(b"\n")?;
                written += 1;
                dirty = true;
                // Keep the file current under a steady stream too.
                if written.is_multiple_of(1024) {
                    out.flush()?;
                    dirty = false;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if dirty {
                    out.flush()?;
                    dirty = false;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Func;
    use faultline_api::EventName;
    use serde_json::json;

    #[test]
    fn streams_a_history_the_checker_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (rec, writer) = Recorder::create(&path, Instant::now()).unwrap();
        let mut handles = Vec::new();
        for p in 0..4u64 {
            let rec = rec.clone();
            handles.push(thread::spawn(move || {
                for i in 0..250 {
                    let op = Op { f: Func::Write, key: format!("k{p}"), value: json!(i) };
                    rec.invoke(p, &op);
                    rec.complete(p, &op, &Outcome::Ok(json!(i)), &Served::default());
                }
            }));
        }
        let cut = json!({"groups": [["n1"], ["n2", "n3"]]});
        rec.nemesis(&FaultEvent::installed(EventName::StartPartition, cut));
        for h in handles {
            h.join().unwrap();
        }
        let op = Op { f: Func::Read, key: "k9".into(), value: Value::Null };
        rec.invoke(9, &op);
        rec.complete(9, &op, &Outcome::Unknown("timeout".into()), &Served::default());
        rec.close();
        rec.nemesis(&FaultEvent::installed(EventName::StopPartition, json!({}))); // dropped
        assert_eq!(writer.finish().unwrap(), 2003);
        let counts = rec.counts();
        assert_eq!((counts.invoked, counts.ok, counts.info, counts.nemesis), (1001, 1000, 1, 2));

        let text = std::fs::read_to_string(&path).unwrap();
        let events: Vec<Event> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        for (i, w) in events.windows(2).enumerate() {
            assert_eq!(w[0].index, i as u64);
            assert!(w[0].time <= w[1].time, "time went backwards at {i}");
        }
        let last = events.last().unwrap();
        assert_eq!((last.kind, last.error.as_deref()), (EventKind::Info, Some("timeout")));
        let history = faultline_checker::History::from_events(
            events.into_iter().enumerate().map(|(i, e)| Ok((i + 1, e))),
        )
        .unwrap();
        assert_eq!((history.ops.len(), history.nemesis.len()), (1001, 1));
    }

    /// Fault events are written as before the typed events: the same `f` and `value`, byte
    /// for byte (the first two lines are those of a run's history in
    /// `reports/tests/data/stale-reads-run.jsonl`, time aside).
    #[test]
    fn fault_events_keep_their_history_lines() {
        use faultline_api::FaultOutcome;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (rec, writer) = Recorder::create(&path, Instant::now()).unwrap();
        let cut = json!({"groups":[["n1","n3"],["n2"]],
                         "grudge":{"n1":["n2"],"n2":["n1","n3"],"n3":["n2"]},
                         "shape":"random-halves"});
        let f8 = json!({"groups":[["n1","n2"],["n3"]],"step":2,"note":"n1 leads"});
        let skipped = FaultOutcome::Skipped("no leader known".into());
        for ev in [
            FaultEvent::installed(EventName::StartPartition, cut),
            FaultEvent::installed(EventName::StopPartition, json!({"shape":"random-halves"})),
            FaultEvent::installed(EventName::StartFigure8, f8),
            FaultEvent::new(EventName::ClockBump, json!({"nodes":["n2"],"delta_ms":-250}), skipped),
            FaultEvent::new(
                EventName::PromoteMember,
                json!({"nodes":["n4"]}),
                FaultOutcome::Indeterminate("timeout".into()),
            ),
        ] {
            rec.nemesis(&ev);
        }
        rec.close();
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // `"time":<n>}` -> `"time":T}`
        let lines: Vec<String> = text
            .lines()
            .map(|l| match l.rfind("\"time\":") {
                Some(at) => format!("{}\"time\":T}}", &l[..at]),
                None => l.to_string(),
            })
            .collect();
        let want = [
            r#"{"index":0,"type":"info","process":"nemesis","f":"start-partition","value":{"groups":[["n1","n3"],["n2"]],"grudge":{"n1":["n2"],"n2":["n1","n3"],"n3":["n2"]},"outcome":"installed","shape":"random-halves"},"time":T}"#,
            r#"{"index":1,"type":"info","process":"nemesis","f":"stop-partition","value":{"outcome":"installed","shape":"random-halves"},"time":T}"#,
            r#"{"index":2,"type":"info","process":"nemesis","f":"start-partition","value":{"groups":[["n1","n2"],["n3"]],"note":"n1 leads","outcome":"installed","shape":"figure8","step":2},"time":T}"#,
            r#"{"index":3,"type":"info","process":"nemesis","f":"clock-bump","value":{"delta_ms":-250,"nodes":["n2"],"outcome":"skipped","reason":"no leader known"},"time":T}"#,
            r#"{"index":4,"type":"info","process":"nemesis","f":"promote-member","value":{"nodes":["n4"],"outcome":"indeterminate","reason":"timeout"},"time":T}"#,
        ];
        assert_eq!(lines, want);
    }

    #[test]
    fn a_simulated_recorder_keeps_virtual_time() {
        let rec = Recorder::simulated();
        let op = Op { f: Func::Put, key: "k1".into(), value: json!("a") };
        rec.set_time(Duration::from_micros(7));
        rec.invoke(0, &op);
        rec.set_time(Duration::from_micros(3)); // never back
        rec.nemesis(&FaultEvent::installed(EventName::Kill, json!({"nodes": ["n1"]})));
        rec.set_time(Duration::from_micros(9));
        rec.complete(0, &op, &Outcome::Unknown("timeout".into()), &Served::default());
        let text = rec.take_jsonl();
        rec.invoke(1, &op); // closed: dropped
        let want = [
            r#"{"index":0,"type":"invoke","process":0,"f":"put","key":"k1","value":"a","time":7000}"#,
            r#"{"index":1,"type":"info","process":"nemesis","f":"kill","value":{"nodes":["n1"],"outcome":"installed"},"time":7000}"#,
            r#"{"index":2,"type":"info","process":0,"f":"put","key":"k1","value":"a","time":9000,"error":"timeout"}"#,
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), want);
        assert_eq!(rec.take_jsonl(), "");
    }
}
