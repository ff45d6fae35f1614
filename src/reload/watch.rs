//! File watches. Each directory is watched non-recursively and any event except `Access` on an
//! entry that matters ([`WatchedDir::matters`]) is a hint to reload (notify reports our own
//! reads as `Access(Open)`: reacting to them would loop).
//! A watch follows the inode, so a replaced directory goes silent: `refresh` compares each
//! directory's (device, inode) and re-creates the watcher when one changed or appeared. When
//! no watcher can be created (inotify limits), reloads fall back to polling. Every time the
//! watches are (re)created one reload is signalled, since changes made while no watch existed
//! (between the initial load and the first watch, or during a re-creation) raised no event.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

use super::attempt::WatchedDir;
use crate::telemetry::Metrics;

type Identity = Option<(u64, u64)>;

fn identity(dir: &Path) -> Identity {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// The current watcher and what it watches.
pub struct Watches {
    events: Arc<Notify>,
    watcher: Option<RecommendedWatcher>,
    watched: Vec<(WatchedDir, Identity)>,
    degraded: bool,
}

impl Watches {
    /// No watches yet; events will be signalled on `events`.
    pub fn new(events: Arc<Notify>) -> Self {
        Self {
            events,
            watcher: None,
            watched: Vec::new(),
            degraded: false,
        }
    }

    /// Makes the watches match `dirs` as they are now on disk.
    pub fn refresh(&mut self, dirs: &[WatchedDir], metrics: &Metrics) {
        let wanted: Vec<(WatchedDir, Identity)> = dirs
            .iter()
            .map(|d| (d.clone(), identity(&d.path)))
            .collect();
        if self.watcher.is_some() && wanted == self.watched {
            return;
        }
        if self.watcher.is_some() {
            tracing::info!("watched directories changed (replaced, created or reconfigured): re-creating the file watcher");
        }
        self.watcher = None;
        let events = self.events.clone();
        let filters: Vec<WatchedDir> = dirs.to_vec();
        // An event matters unless every path it names is in a watched directory that ignores it
        // (events without paths, errors and overflows always matter).
        let matters = move |ev: &notify::Event| {
            ev.paths.is_empty()
                || ev.paths.iter().any(|p| {
                    let dir = p.parent().unwrap_or(Path::new(""));
                    filters
                        .iter()
                        .filter(|d| d.path == dir)
                        .all(|d| d.matters(p))
                })
        };
        let created =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(ev) if matches!(ev.kind, EventKind::Access(_)) => {}
                Ok(ev) if !matters(&ev) => {}
                other => {
                    tracing::trace!(event = ?other, "file event");
                    events.notify_one();
                }
            });
        let mut watcher = match created {
            Ok(w) => w,
            Err(e) => {
                self.set_degraded(true, &e.to_string(), metrics);
                self.watched = wanted;
                return;
            }
        };
        let mut problems = Vec::new();
        for (dir, id) in &wanted {
            if id.is_none() {
                problems.push(format!("{} does not exist yet", dir.path.display()));
                continue;
            }
            if let Err(e) = watcher.watch(&dir.path, RecursiveMode::NonRecursive) {
                problems.push(format!("{}: {e}", dir.path.display()));
            }
        }
        self.set_degraded(!problems.is_empty(), &problems.join("; "), metrics);
        self.watcher = Some(watcher);
        self.watched = wanted;
        // Changes made before the watches existed raised no event: check once now.
        self.events.notify_one();
    }

    fn set_degraded(&mut self, degraded: bool, why: &str, metrics: &Metrics) {
        metrics.set_watcher_active(!degraded);
        if degraded && !self.degraded {
            tracing::warn!(
                problem = why,
                "file watching incomplete: relying on the reload.poll_interval poll"
            );
        } else if !degraded && self.degraded {
            tracing::info!("file watching restored");
        }
        self.degraded = degraded;
    }
}
