//! The node's clock: the monotonic clock, shifted by an offset and scaled by a rate.
//!
//! ```text
//!   Instant::now ──(elapsed since anchor) × rate + anchor value + offset──▶ Clock::now_ms
//!                                                                              │
//!   POST /v1/admin/clock {offset_ms, rate} ──▶ Clock::set (re-anchors)         ▼
//!                                               runtime ticks, election timeouts, leases
//! ```
//!
//! Every timer of a real node derives from this clock, so the clock nemesis reaches the
//! node through one admin call: a jump forward fires timeouts at once, a jump backward
//! freezes them until the clock catches up, and a rate other than 1.0 makes the node's
//! time run fast or slow. Re-anchoring on each change keeps the rate-scaled part continuous,
//! so only the offset ever jumps.

// The clock is the one place that reads the real monotonic clock (clippy.toml bans it
// elsewhere); everything else in the node asks this clock.
#![allow(clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use faultline_api::node::ClockSettings;

#[derive(Debug)]
struct State {
    /// Real instant of the last change.
    anchor: Instant,
    /// Unshifted node time (ms, as f64 for sub-ms rates) at `anchor`.
    anchor_ms: f64,
    settings: ClockSettings,
}

/// A cheap, cloneable handle to the node's clock.
///
/// A std `Mutex` guards it (as mini-redis `db.rs` argues): the critical sections are a few
/// arithmetic operations and never await, so an async mutex would only add cost.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    state: Arc<Mutex<State>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock reading 0 now, with offset 0 and rate 1.0.
    pub fn new() -> Clock {
        let start = Instant::now();
        let state = State { anchor: start, anchor_ms: 0.0, settings: ClockSettings::default() };
        Clock { start, state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock can only come from float arithmetic, which does
        // not panic; recover the guard anyway rather than poisoning the whole node.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The node's time in milliseconds since the clock was created (offset and rate applied).
    pub fn now_ms(&self) -> f64 {
        let s = self.lock();
        let real = s.anchor.elapsed().as_secs_f64() * 1000.0;
        s.anchor_ms + real * s.settings.rate + s.settings.offset_ms as f64
    }

    /// Real milliseconds since the clock was created (for logs and latency, never timers).
    pub fn real_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1000.0
    }

    /// The current offset and rate.
    pub fn settings(&self) -> ClockSettings {
        self.lock().settings
    }

    /// Sets offset and rate; the rate applies from now on, the offset replaces the old one.
    ///
    /// # Errors
    ///
    /// The message of [`ClockSettings::validate`]; the clock is then unchanged.
    pub fn set(&self, settings: ClockSettings) -> Result<ClockSettings, String> {
        settings.validate()?;
        let mut s = self.lock();
        let now = Instant::now();
        let real = now.duration_since(s.anchor).as_secs_f64() * 1000.0;
        s.anchor_ms += real * s.settings.rate;
        s.anchor = now;
        s.settings = settings;
        tracing::info!(offset_ms = settings.offset_ms, rate = settings.rate, "clock set");
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_jumps_and_rate_scales() {
        let clock = Clock::new();
        let t0 = clock.now_ms();
        clock.set(ClockSettings { offset_ms: 5000, rate: 1.0 }).unwrap();
        let t1 = clock.now_ms();
        assert!(t1 - t0 >= 5000.0 && t1 - t0 < 5500.0, "{t0} -> {t1}");
        clock.set(ClockSettings { offset_ms: -5000, rate: 1.0 }).unwrap();
        let t2 = clock.now_ms();
        assert!(t2 - t0 < -4000.0 && t2 - t0 > -5000.0, "{t0} -> {t2}");
        // A fast clock advances more than real time.
        clock.set(ClockSettings { offset_ms: 0, rate: 50.0 }).unwrap();
        let (a, ra) = (clock.now_ms(), clock.real_ms());
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (b, rb) = (clock.now_ms(), clock.real_ms());
        assert!(b - a >= 40.0 * (rb - ra).min(20.0), "fast clock moved {} in {}", b - a, rb - ra);
    }

    #[test]
    fn bad_settings_are_refused_and_leave_the_clock_alone() {
        let clock = Clock::new();
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2000.0] {
            assert!(clock.set(ClockSettings { offset_ms: 0, rate }).is_err(), "rate {rate}");
        }
        assert_eq!(clock.settings(), ClockSettings::default());
    }
}
