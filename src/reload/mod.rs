//! Hot reload of keys and config. File events (non-recursive watches on each key directory and
//! on the config file's directory) are hints: after a trailing debounce the whole state is read
//! again, validated all-or-nothing, and published as one new snapshot. A poll every
//! `reload.poll_interval` is the safety net for lost events and replaced directories.

mod attempt;
mod watch;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::time::{sleep, sleep_until, Instant};

pub use attempt::{initial_keys, Reloader};

use crate::config::Overrides;
use crate::keys::SourceSets;
use crate::state::State;

/// The debounce never delays a reload by more than this after the first event.
pub const MAX_DEBOUNCE_WAIT: Duration = Duration::from_secs(2);

/// Unix time as float seconds.
pub fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Reloads until `stop` resolves.
pub async fn run(
    state: Arc<State>,
    overrides: Overrides,
    sets: SourceSets,
    stop: impl Future<Output = ()>,
) {
    let events = Arc::new(Notify::new());
    let mut reloader = Reloader::new(state.clone(), overrides.clone(), sets);
    let mut watches = watch::Watches::new(events.clone());
    watches.refresh(&reloader.watched_dirs(), &state.metrics);
    tokio::pin!(stop);
    loop {
        let poll = state.snapshot().config.reload.poll_interval;
        let debounce = state.snapshot().config.reload.debounce;
        let by_event = tokio::select! {
            _ = &mut stop => return,
            _ = events.notified() => true,
            _ = sleep(poll) => false,
        };
        if by_event {
            let deadline = Instant::now() + MAX_DEBOUNCE_WAIT;
            loop {
                tokio::select! {
                    _ = &mut stop => return,
                    _ = events.notified() => continue,
                    _ = sleep(debounce) => break,
                    _ = sleep_until(deadline) => break,
                }
            }
        }
        tracing::debug!(by_event, "reload attempt");
        reloader = match tokio::task::spawn_blocking(move || {
            reloader.attempt();
            reloader
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "reload task failed; keeping the current state (sources that fail from now on have no last good set to keep)");
                Reloader::new(state.clone(), overrides.clone(), SourceSets::default())
            }
        };
        // Directories may have been replaced, created, or changed by a new config.
        watches.refresh(&reloader.watched_dirs(), &state.metrics);
    }
}
