//! Log setup: `tracing` to stderr, as text or one JSON object per line. Nothing logged anywhere
//! in jwt-authz carries a token or key bytes: kids and fingerprints identify keys.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

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
pub fn init(format: LogFormat, level: &str) -> Result<(), LogError> {
    let filter = EnvFilter::from_str(level).map_err(|e| LogError {
        level: level.to_string(),
        message: e.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second init (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}
