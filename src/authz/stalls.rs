//! Check streams whose request message has not fully arrived, oldest first, so that a full
//! server evicts a stalled stream instead of refusing a new one. A legitimate Check (Envoy sends
//! its few KB at once) completes on its first read and never registers; a stream that has to
//! wait for more of its message registers here (a lock only such streams take). When the
//! in-flight limit or the buffer budget is reached, the oldest stalled stream is answered
//! RESOURCE_EXHAUSTED and the new one admitted: stalling streams, from however many
//! connections, cannot lock out Checks that arrive whole.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// One stalled stream's eviction flag.
#[derive(Debug, Default)]
pub struct Stall {
    evicted: AtomicBool,
    waker: AtomicWaker,
}

impl Stall {
    /// Ready once evicted; registers the waker otherwise.
    pub fn poll_evicted(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        if self.evicted.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The stalled streams, oldest first.
#[derive(Debug, Default)]
pub struct Stalls {
    list: Mutex<VecDeque<Weak<Stall>>>,
}

impl Stalls {
    /// Registers a stream that has to wait for more of its message.
    pub fn register(&self) -> Arc<Stall> {
        let stall = Arc::new(Stall::default());
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        // Drop the finished ones at the front, so the list holds live streams.
        while list.front().is_some_and(|w| w.strong_count() == 0) {
            list.pop_front();
        }
        list.push_back(Arc::downgrade(&stall));
        stall
    }

    /// Evicts the oldest stream still waiting; false when there is none.
    pub fn evict_oldest(&self) -> bool {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(weak) = list.pop_front() {
            if let Some(stall) = weak.upgrade() {
                if !stall.evicted.swap(true, Ordering::AcqRel) {
                    stall.waker.wake();
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_live_stream_is_evicted_first() {
        let stalls = Stalls::default();
        let first = stalls.register();
        let second = stalls.register();
        let third = stalls.register();
        drop(second);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(first.poll_evicted(&mut cx).is_pending());
        assert!(stalls.evict_oldest());
        assert!(first.poll_evicted(&mut cx).is_ready());
        assert!(third.poll_evicted(&mut cx).is_pending());
        assert!(stalls.evict_oldest(), "the dropped one is skipped");
        assert!(third.poll_evicted(&mut cx).is_ready());
        assert!(!stalls.evict_oldest());
    }
}
