//! Metrics and logs.

mod logging;
mod metrics;

pub use logging::{init as init_logging, LogError, LogFormat};
pub use metrics::{AllowReason, ErrorReason, Metrics, ReloadKind, ReloadResult, SnapshotCounters};
