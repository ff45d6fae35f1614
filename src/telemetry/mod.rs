//! Metrics and logs.

mod labels;
mod logging;
mod metrics;
mod providers;

pub use logging::{
    clip, dropped_lines, init as init_logging, LogError, LogFormat, LogGuard,
    MAX_LOGGED_VALUE_BYTES,
};
pub use metrics::{AllowReason, ErrorReason, Metrics, ReloadKind, ReloadResult, SnapshotCounters};
pub use providers::{FetchResult, ProviderMetrics};
