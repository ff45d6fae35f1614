//! Log setup: `tracing` to stderr, as text or one JSON object per line. Nothing logged anywhere
//! in jwt-authz carries a token or key bytes: kids and fingerprints identify keys. Lines leave
//! through a bounded queue drained by a writer thread: when stderr is slow (a stalled log
//! pipe), lines are dropped and counted (`jwt_authz_log_lines_dropped_total`) instead of
//! blocking the thread that logs. Request-controlled values are clipped ([`clip`]) before they
//! are logged, so no request can buy a large log line. Colour only on a terminal, never with
//! `NO_COLOR`.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines queued for the writer thread before new ones are dropped.
const QUEUED_LINES: usize = 8192;

/// The longest request-controlled value logged, in bytes.
pub const MAX_LOGGED_VALUE_BYTES: usize = 128;

static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Keeps the writer thread; dropping it flushes what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Lines dropped because the log sink was too slow, since startup.
pub fn dropped_lines() -> u64 {
    DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// A request-controlled value as logged: at most [`MAX_LOGGED_VALUE_BYTES`] bytes (on a
/// character boundary), then `…` and the full length.
pub fn clip(value: &str) -> Clipped<'_> {
    Clipped(value)
}

/// See [`clip`].
pub struct Clipped<'a>(&'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s.len() <= MAX_LOGGED_VALUE_BYTES {
            return f.write_str(s);
        }
        let mut end = MAX_LOGGED_VALUE_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        write!(f, "{}…({} bytes)", &s[..end], s.len())
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("invalid --log-level {level:?}: {message}")]
pub struct LogError {
    level: String,
    message: String,
}

/// Installs the global subscriber. `level` is a level (`info`) or an `EnvFilter` directive list
/// (`info,jwt_authz=debug`).
pub fn init(format: LogFormat, level: &str) -> Result<LogGuard, LogError> {
    let filter = EnvFilter::from_str(level).map_err(|e| LogError {
        level: level.to_string(),
        message: e.to_string(),
    })?;
    if DROPPED.get().is_some() {
        // A second init (tests) keeps the first subscriber.
        return Ok(LogGuard(None));
    }
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("jwt-authz-log")
        .finish(std::io::stderr());
    let _ = DROPPED.set(writer.error_counter());
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(LogGuard(Some(guard)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("short").to_string(), "short");
        let long = "é".repeat(100);
        let text = clip(&long).to_string();
        assert!(text.ends_with("…(200 bytes)"), "{text}");
        assert!(text.len() <= MAX_LOGGED_VALUE_BYTES + "…(200 bytes)".len());
        assert!(text.starts_with(&"é".repeat(64)));
    }
}
