//! `limits:`, every resource bound with its default and its range. What each protects against
//! is in SECURITY.md; the README's limits table lists them all. Listener settings (streams,
//! keepalive, timeouts, connection caps) take effect at startup; the others also on reload.

use std::time::Duration;

use serde::Deserialize;

use super::convert::Ctx;
use super::raw::HumanDuration;
use super::ConfigError;

/// `limits:`
#[derive(Clone, Debug)]
pub struct Limits {
    /// Checks answered at once (from their headers to the answer); more are shed with
    /// UNAVAILABLE.
    pub max_in_flight: usize,
    /// Longest request header value (authorization, cookie) that is searched for a token.
    pub max_header_bytes: usize,
    /// Longest decoded claims JSON.
    pub max_claims_bytes: usize,
    /// Deepest nesting of the claims JSON.
    pub max_claims_depth: usize,
    /// Most keys one source may hold (counted before any file is read).
    pub max_keys_per_source: usize,
    /// Largest key or JWKS file.
    pub max_key_file_bytes: usize,
    /// Most bytes of all files of one key source together (checked before reading).
    pub max_source_bytes: usize,
    /// Largest gRPC request message (a CheckRequest, a health request).
    pub max_message_bytes: usize,
    /// Bytes of request messages all streams may buffer at once; beyond, Checks are shed.
    pub max_buffered_bytes: usize,
    /// HTTP/2 streams one connection may open at once.
    pub max_concurrent_streams: u32,
    /// A Check (reading its message included) that takes longer is cancelled.
    pub request_timeout: Duration,
    /// HTTP/2 keepalive ping interval.
    pub keepalive_interval: Duration,
    /// A keepalive ping unanswered this long closes the connection.
    pub keepalive_timeout: Duration,
    /// A connection that has not started a request this long after it was accepted is closed.
    pub handshake_timeout: Duration,
    /// Connections are closed (gracefully) after this age.
    pub max_connection_age: Duration,
    /// gRPC connections open at once; more are closed on accept.
    pub max_connections: usize,
    /// Streams one connection may cause the server to reset before it is closed.
    pub max_reset_streams: usize,
    /// gRPC health `Watch` streams open at once.
    pub max_health_watches: usize,
    /// Admin (metrics, health) connections open at once.
    pub admin_max_connections: usize,
    /// An admin request whose headers take longer to arrive is dropped with its connection.
    pub admin_header_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            max_header_bytes: 16 * 1024,
            max_claims_bytes: 16 * 1024,
            max_claims_depth: 16,
            max_keys_per_source: 1000,
            max_key_file_bytes: 256 * 1024,
            max_source_bytes: 4 << 20,
            max_message_bytes: 256 * 1024,
            max_buffered_bytes: 32 << 20,
            max_concurrent_streams: 128,
            request_timeout: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_connection_age: Duration::from_secs(3600),
            max_connections: 1024,
            max_reset_streams: 256,
            max_health_watches: 64,
            admin_max_connections: 64,
            admin_header_timeout: Duration::from_secs(5),
        }
    }
}

/// `limits:` as written (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    max_in_flight: Option<usize>,
    max_header_bytes: Option<usize>,
    max_claims_bytes: Option<usize>,
    max_claims_depth: Option<usize>,
    max_keys_per_source: Option<usize>,
    max_key_file_bytes: Option<usize>,
    max_source_bytes: Option<usize>,
    max_message_bytes: Option<usize>,
    max_buffered_bytes: Option<usize>,
    max_concurrent_streams: Option<u32>,
    request_timeout: Option<HumanDuration>,
    keepalive_interval: Option<HumanDuration>,
    keepalive_timeout: Option<HumanDuration>,
    handshake_timeout: Option<HumanDuration>,
    max_connection_age: Option<HumanDuration>,
    max_connections: Option<usize>,
    max_reset_streams: Option<usize>,
    max_health_watches: Option<usize>,
    admin_max_connections: Option<usize>,
    admin_header_timeout: Option<HumanDuration>,
}

pub(super) fn convert(ctx: &Ctx<'_>, raw: RawLimits) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let range = |name: &str, v: usize, min: usize, max: usize| {
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(ctx.invalid(
                format!("limits.{name}"),
                format!("must be between {min} and {max}"),
            ))
        }
    };
    let size = |name: &str, v: Option<usize>, default: usize, min: usize, max: usize| {
        range(name, v.unwrap_or(default), min, max)
    };
    let time =
        |name: &str, v: Option<HumanDuration>, default: Duration, min_ms: u64, max_s: u64| {
            let v = v.map_or(default, |d| d.0);
            if v < Duration::from_millis(min_ms) || v > Duration::from_secs(max_s) {
                return Err(ctx.invalid(
                    format!("limits.{name}"),
                    format!("must be between {min_ms}ms and {max_s}s"),
                ));
            }
            Ok(v)
        };
    let limits = Limits {
        max_in_flight: size(
            "max_in_flight",
            raw.max_in_flight,
            d.max_in_flight,
            1,
            1_000_000,
        )?,
        max_header_bytes: size(
            "max_header_bytes",
            raw.max_header_bytes,
            d.max_header_bytes,
            256,
            1 << 20,
        )?,
        max_claims_bytes: size(
            "max_claims_bytes",
            raw.max_claims_bytes,
            d.max_claims_bytes,
            64,
            1 << 20,
        )?,
        max_claims_depth: size(
            "max_claims_depth",
            raw.max_claims_depth,
            d.max_claims_depth,
            1,
            64,
        )?,
        max_keys_per_source: size(
            "max_keys_per_source",
            raw.max_keys_per_source,
            d.max_keys_per_source,
            1,
            100_000,
        )?,
        max_key_file_bytes: size(
            "max_key_file_bytes",
            raw.max_key_file_bytes,
            d.max_key_file_bytes,
            64,
            16 << 20,
        )?,
        max_source_bytes: size(
            "max_source_bytes",
            raw.max_source_bytes,
            d.max_source_bytes,
            64,
            256 << 20,
        )?,
        max_message_bytes: size(
            "max_message_bytes",
            raw.max_message_bytes,
            d.max_message_bytes,
            1024,
            16 << 20,
        )?,
        max_buffered_bytes: size(
            "max_buffered_bytes",
            raw.max_buffered_bytes,
            d.max_buffered_bytes,
            1024,
            1 << 30,
        )?,
        max_concurrent_streams: range(
            "max_concurrent_streams",
            raw.max_concurrent_streams
                .unwrap_or(d.max_concurrent_streams) as usize,
            1,
            10_000,
        )? as u32,
        request_timeout: time(
            "request_timeout",
            raw.request_timeout,
            d.request_timeout,
            10,
            60,
        )?,
        keepalive_interval: time(
            "keepalive_interval",
            raw.keepalive_interval,
            d.keepalive_interval,
            1000,
            3600,
        )?,
        keepalive_timeout: time(
            "keepalive_timeout",
            raw.keepalive_timeout,
            d.keepalive_timeout,
            100,
            600,
        )?,
        handshake_timeout: time(
            "handshake_timeout",
            raw.handshake_timeout,
            d.handshake_timeout,
            100,
            600,
        )?,
        max_connection_age: time(
            "max_connection_age",
            raw.max_connection_age,
            d.max_connection_age,
            1000,
            7 * 86_400,
        )?,
        max_connections: size(
            "max_connections",
            raw.max_connections,
            d.max_connections,
            1,
            1_000_000,
        )?,
        max_reset_streams: size(
            "max_reset_streams",
            raw.max_reset_streams,
            d.max_reset_streams,
            1,
            100_000,
        )?,
        max_health_watches: size(
            "max_health_watches",
            raw.max_health_watches,
            d.max_health_watches,
            1,
            100_000,
        )?,
        admin_max_connections: size(
            "admin_max_connections",
            raw.admin_max_connections,
            d.admin_max_connections,
            1,
            100_000,
        )?,
        admin_header_timeout: time(
            "admin_header_timeout",
            raw.admin_header_timeout,
            d.admin_header_timeout,
            100,
            600,
        )?,
    };
    if limits.max_message_bytes <= limits.max_header_bytes {
        return Err(ctx.invalid(
            "limits.max_message_bytes",
            format!(
                "must be larger than limits.max_header_bytes ({}): a request carries its headers",
                limits.max_header_bytes
            ),
        ));
    }
    if limits.max_buffered_bytes < limits.max_message_bytes {
        return Err(ctx.invalid(
            "limits.max_buffered_bytes",
            "must be at least limits.max_message_bytes",
        ));
    }
    if limits.max_key_file_bytes > limits.max_source_bytes {
        return Err(ctx.invalid(
            "limits.max_source_bytes",
            "must be at least limits.max_key_file_bytes",
        ));
    }
    Ok(limits)
}
