//! Sustained load shedding: when Checks have been shed in every second for
//! [`OVERLOAD_AFTER_SECS`], the server reports itself not ready (`/readyz` and gRPC health), so
//! Kubernetes and Envoy send elsewhere; after [`RECOVER_AFTER_SECS`] without a shed it is ready
//! again. The shed warning is rate-limited to one line per second, with the count. Atomics
//! only: recording a shed takes no lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shedding in this many consecutive seconds makes the server not ready.
pub const OVERLOAD_AFTER_SECS: u64 = 3;
/// This many seconds without a shed make it ready again.
pub const RECOVER_AFTER_SECS: u64 = 5;

/// Shed events, by second.
#[derive(Debug, Default)]
pub struct Overload {
    /// The last second with a shed (0: never).
    last: AtomicU64,
    /// The first second of the current run of seconds with sheds.
    run_start: AtomicU64,
    /// Sheds not yet reported by a warning.
    unreported: AtomicU64,
    /// The second of the last warning.
    warned: AtomicU64,
    /// The current verdict (read by readiness).
    overloaded: AtomicBool,
}

impl Overload {
    /// Records a shed at `now` (Unix seconds); returns the count to warn about, when a warning
    /// is due (at most once per second).
    pub fn record(&self, now: u64) -> Option<u64> {
        let last = self.last.swap(now, Ordering::AcqRel);
        if last + 1 < now {
            self.run_start.store(now, Ordering::Release);
        }
        self.unreported.fetch_add(1, Ordering::AcqRel);
        let warned = self.warned.load(Ordering::Acquire);
        if warned < now
            && self
                .warned
                .compare_exchange(warned, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Some(self.unreported.swap(0, Ordering::AcqRel));
        }
        None
    }

    /// Re-evaluates the verdict at `now`; true when it changed.
    pub fn evaluate(&self, now: u64) -> bool {
        let last = self.last.load(Ordering::Acquire);
        let start = self.run_start.load(Ordering::Acquire);
        let was = self.overloaded.load(Ordering::Acquire);
        let shedding_now = last != 0 && last + 1 >= now;
        let verdict = if was {
            last + RECOVER_AFTER_SECS > now
        } else {
            shedding_now && now.saturating_sub(start) + 1 >= OVERLOAD_AFTER_SECS
        };
        self.overloaded.store(verdict, Ordering::Release);
        verdict != was
    }

    /// True while shedding is sustained.
    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sustained_shedding_turns_overloaded_and_recovers() {
        let o = Overload::default();
        let t = 1_000;
        o.record(t);
        assert!(!o.evaluate(t) && !o.is_overloaded(), "one second is a blip");
        o.record(t + 1);
        o.evaluate(t + 1);
        assert!(!o.is_overloaded());
        o.record(t + 2);
        assert!(
            o.evaluate(t + 2) && o.is_overloaded(),
            "three seconds in a row"
        );
        // Quiet: still overloaded until RECOVER_AFTER_SECS have passed.
        o.evaluate(t + 4);
        assert!(o.is_overloaded());
        assert!(o.evaluate(t + 2 + RECOVER_AFTER_SECS));
        assert!(!o.is_overloaded());
        // A gap restarts the run.
        o.record(t + 20);
        o.record(t + 22);
        o.evaluate(t + 22);
        assert!(!o.is_overloaded());
    }

    #[test]
    fn warnings_are_at_most_once_per_second_with_the_count() {
        let o = Overload::default();
        assert_eq!(o.record(10), Some(1));
        for _ in 0..99 {
            assert_eq!(o.record(10), None);
        }
        assert_eq!(o.record(11), Some(100));
    }
}
