//! `providers:`: several issuers, each with mounted keys, a remote JWK Set, or both. Without
//! `providers`, the top-level `keys` and `jwt` form the one (implicit) provider, as before; with
//! it, top-level `keys` is optional and, when present, is the implicit provider that takes the
//! tokens no named provider claims.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use super::convert::{convert_keys, Ctx};
use super::raw::{HumanDuration, RawKeySource};
use super::{ConfigError, JwtSettings, KeySource};

/// The implicit provider's name in logs (not a valid provider name, so never a clash).
pub const IMPLICIT_PROVIDER: &str = "(top-level keys)";

/// One entry of `providers:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    name: String,
    issuer: Option<String>,
    audiences: Option<Vec<String>>,
    #[serde(default)]
    discovery: bool,
    jwks_uri: Option<String>,
    #[serde(default)]
    keys: Vec<RawKeySource>,
    remote: Option<RawRemote>,
}

/// `providers[].remote` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRemote {
    refresh_interval: Option<HumanDuration>,
    min_refresh: Option<HumanDuration>,
    max_refresh: Option<HumanDuration>,
    timeout: Option<HumanDuration>,
    unknown_kid_cooldown: Option<HumanDuration>,
    unknown_kid_wait: Option<HumanDuration>,
    max_stale: Option<HumanDuration>,
    ca_file: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    allow_http: Option<bool>,
    max_bytes: Option<ByteSize>,
}

/// A provider: an issuer and the keys that may sign its tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// `[a-z0-9-]{1,32}` (the `provider` label of metrics); [`IMPLICIT_PROVIDER`] for the
    /// top-level keys.
    pub name: Arc<str>,
    /// The exact `iss` of its tokens; `None` for the implicit provider (`jwt.issuers` applies).
    pub issuer: Option<String>,
    /// Accepted audiences (empty: not checked).
    pub audiences: Vec<String>,
    /// Where its keys are fetched from, when they are.
    pub remote: Option<Remote>,
}

/// Where a remote JWK Set is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksLocation {
    /// `{issuer}/.well-known/openid-configuration`'s `jwks_uri`.
    Discovery,
    /// This URL.
    Uri(String),
}

/// How a provider's keys are fetched (`providers[].remote`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Discovery or a fixed URL.
    pub location: JwksLocation,
    /// Refresh period without `Cache-Control: max-age`.
    pub refresh_interval: Duration,
    /// Lower bound of the refresh period (and the longest retry backoff).
    pub min_refresh: Duration,
    /// Upper bound of the refresh period.
    pub max_refresh: Duration,
    /// Connect plus response.
    pub timeout: Duration,
    /// At most one unknown-kid refetch per this period.
    pub unknown_kid_cooldown: Duration,
    /// How long a Check waits for an unknown-kid refetch (0: never).
    pub unknown_kid_wait: Duration,
    /// Keys are dropped this long after the last successful fetch.
    pub max_stale: Duration,
    /// PEM trust anchors added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Where the last good JWK Set is kept across restarts.
    pub cache_dir: Option<PathBuf>,
    /// `http://` URLs allowed.
    pub allow_http: bool,
    /// Largest response body.
    pub max_bytes: usize,
}

impl Remote {
    /// The discovery document's URL, or the JWK Set's.
    pub fn first_url(&self, issuer: &str) -> String {
        match &self.location {
            JwksLocation::Discovery => format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            JwksLocation::Uri(u) => u.clone(),
        }
    }
}

/// Checks a URL's scheme (https, or http with `allow_http`) and shape.
pub fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_http => {}
        Some("http") => {
            return Err(format!(
                "{url:?} is http: keys must come over https (remote.allow_http: true allows http for tests and in-cluster identity providers)"
            ))
        }
        _ => return Err(format!("{url:?} must be an https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Converts top-level `keys` and `providers`: every mounted source (with its provider index)
/// and the providers, named ones first, the implicit one last (when top-level `keys` is set).
pub(super) fn convert(
    ctx: &Ctx<'_>,
    top_keys: Vec<RawKeySource>,
    raw: Vec<RawProvider>,
) -> Result<(Vec<KeySource>, Vec<Provider>), ConfigError> {
    if raw.is_empty() && top_keys.is_empty() {
        return Err(ctx.invalid(
            "keys",
            "at least one key source is required (or a provider under providers:)",
        ));
    }
    let mut sources = Vec::new();
    let mut providers: Vec<Provider> = Vec::with_capacity(raw.len() + 1);
    for (i, p) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("providers[{i}].{name}");
        if !valid_name(&p.name) {
            return Err(ctx.invalid(
                field("name"),
                format!("{:?}: use 1 to 32 of a-z, 0-9 and -", p.name),
            ));
        }
        if providers.iter().any(|q| *q.name == p.name) {
            return Err(ctx.invalid(field("name"), format!("{:?} is used twice", p.name)));
        }
        let issuer = match p.issuer {
            None => {
                return Err(ctx.invalid(field("issuer"), "required (the exact iss of its tokens)"))
            }
            Some(i) if i.is_empty() => {
                return Err(ctx.invalid(field("issuer"), "must not be empty"))
            }
            Some(i) => i,
        };
        if let Some(q) = providers
            .iter()
            .find(|q| q.issuer.as_deref() == Some(&issuer))
        {
            return Err(ctx.invalid(
                field("issuer"),
                format!("{issuer:?} is already provider {:?}'s issuer", q.name),
            ));
        }
        let audiences = p.audiences.unwrap_or_default();
        if let Some(j) = audiences.iter().position(String::is_empty) {
            return Err(ctx.invalid(field(&format!("audiences[{j}]")), "must not be empty"));
        }
        let location = match (p.discovery, p.jwks_uri) {
            (true, Some(_)) => {
                return Err(ctx.invalid(
                    field("jwks_uri"),
                    "set either discovery: true or jwks_uri, not both",
                ))
            }
            (true, None) => Some(JwksLocation::Discovery),
            (false, Some(u)) => Some(JwksLocation::Uri(u)),
            (false, None) => None,
        };
        let remote = match (location, p.remote) {
            (None, Some(_)) => {
                return Err(ctx.invalid(
                    field("remote"),
                    "applies only with discovery: true or jwks_uri",
                ))
            }
            (None, None) => None,
            (Some(location), raw_remote) => Some(convert_remote(
                ctx,
                &field("remote"),
                location,
                raw_remote.unwrap_or_default(),
            )?),
        };
        if let Some(r) = &remote {
            let (url_field, url) = match &r.location {
                JwksLocation::Discovery => (field("issuer"), issuer.clone()),
                JwksLocation::Uri(u) => (field("jwks_uri"), u.clone()),
            };
            check_url(&url, r.allow_http).map_err(|m| ctx.invalid(url_field, m))?;
        }
        let before = sources.len();
        convert_keys(ctx, &field("keys"), i, p.keys, &mut sources)?;
        if remote.is_none() && sources.len() == before {
            return Err(ctx.invalid(
                field("keys"),
                "a provider needs keys: discovery: true, a jwks_uri, or mounted keys",
            ));
        }
        providers.push(Provider {
            name: Arc::from(p.name.as_str()),
            issuer: Some(issuer),
            audiences,
            remote,
        });
    }
    if !top_keys.is_empty() {
        convert_keys(ctx, "keys", providers.len(), top_keys, &mut sources)?;
        providers.push(Provider {
            name: Arc::from(IMPLICIT_PROVIDER),
            issuer: None,
            audiences: Vec::new(),
            remote: None,
        });
    }
    Ok((sources, providers))
}

/// Fills `jwt.providers`: named providers default their audiences to `jwt.audiences`; the
/// implicit one takes `jwt.audiences`, and `jwt.issuers` must not name a provider's issuer
/// (its tokens go to that provider, never to the top-level keys).
pub(super) fn settle(
    ctx: &Ctx<'_>,
    jwt: &mut JwtSettings,
    mut providers: Vec<Provider>,
) -> Result<(), ConfigError> {
    for p in &mut providers {
        if p.audiences.is_empty() {
            p.audiences = jwt.audiences.clone();
        }
    }
    for (i, iss) in jwt.issuers.iter().enumerate() {
        if let Some(p) = providers.iter().find(|p| p.issuer.as_deref() == Some(iss)) {
            return Err(ctx.invalid(
                format!("jwt.issuers[{i}]"),
                format!("{iss:?} is provider {:?}'s issuer: its tokens go to that provider, never to the top-level keys", p.name),
            ));
        }
    }
    jwt.providers = providers;
    Ok(())
}

fn convert_remote(
    ctx: &Ctx<'_>,
    prefix: &str,
    location: JwksLocation,
    raw: RawRemote,
) -> Result<Remote, ConfigError> {
    let field = |name: &str| format!("{prefix}.{name}");
    let d =
        |v: Option<HumanDuration>, default: u64| v.map_or(Duration::from_secs(default), |d| d.0);
    let base = ctx.path.parent().unwrap_or(Path::new("."));
    let absolute = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
    let r = Remote {
        location,
        refresh_interval: d(raw.refresh_interval, 600),
        min_refresh: d(raw.min_refresh, 60),
        max_refresh: d(raw.max_refresh, 86_400),
        timeout: d(raw.timeout, 5),
        unknown_kid_cooldown: d(raw.unknown_kid_cooldown, 30),
        unknown_kid_wait: d(raw.unknown_kid_wait, 1),
        max_stale: d(raw.max_stale, 86_400),
        ca_file: raw.ca_file.map(absolute),
        cache_dir: raw.cache_dir.map(absolute),
        allow_http: raw.allow_http.unwrap_or(false),
        max_bytes: raw.max_bytes.map_or(1 << 20, |b| b.0),
    };
    let at_least = |name: &str, v: Duration, min: Duration, what: &str| {
        if v < min {
            Err(ctx.invalid(field(name), format!("must be at least {what}")))
        } else {
            Ok(())
        }
    };
    at_least("min_refresh", r.min_refresh, Duration::from_secs(1), "1s")?;
    at_least(
        "refresh_interval",
        r.refresh_interval,
        r.min_refresh,
        "min_refresh",
    )?;
    at_least(
        "max_refresh",
        r.max_refresh,
        r.refresh_interval,
        "refresh_interval",
    )?;
    at_least("timeout", r.timeout, Duration::from_millis(100), "100ms")?;
    at_least(
        "unknown_kid_cooldown",
        r.unknown_kid_cooldown,
        Duration::from_secs(1),
        "1s",
    )?;
    at_least(
        "max_stale",
        r.max_stale,
        r.max_refresh.min(r.refresh_interval),
        "refresh_interval",
    )?;
    if r.timeout > Duration::from_secs(60) {
        return Err(ctx.invalid(field("timeout"), "must be at most 60s"));
    }
    if r.unknown_kid_wait > Duration::from_secs(10) {
        return Err(ctx.invalid(
            field("unknown_kid_wait"),
            "must be at most 10s (Checks wait this long)",
        ));
    }
    if !(1024..=64 << 20).contains(&r.max_bytes) {
        return Err(ctx.invalid(field("max_bytes"), "must be between 1KiB and 64MiB"));
    }
    Ok(r)
}

/// A size in bytes: a number, or a number with `B`, `KiB`, `MiB`.
#[derive(Clone, Copy, Debug)]
struct ByteSize(usize);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1048576, 512KiB or 1MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                usize::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("size is too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("size must not be negative"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
                let t = text.trim();
                let (digits, unit) =
                    t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
                let scale = match unit.trim() {
                    "" | "B" => 1,
                    "KiB" => 1 << 10,
                    "MiB" => 1 << 20,
                    _ => {
                        return Err(E::custom(format!(
                            "invalid size {text:?}: write bytes, or a number with KiB or MiB"
                        )))
                    }
                };
                digits
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_mul(scale))
                    .map(ByteSize)
                    .ok_or_else(|| E::custom(format!("invalid size {text:?}")))
            }
        }
        d.deserialize_any(V)
    }
}
