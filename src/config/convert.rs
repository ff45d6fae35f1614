//! Raw YAML structs → validated [`Config`], naming the field of every rejected value.

use std::path::Path;
use std::time::Duration;

use super::raw::{RawConfig, RawForward, RawJwt, RawKeySource, RawTokenSource};
use super::{
    ConfigError, Forward, JwtSettings, KeyEncoding, KeyFormat, KeySource, Listen, ListenAddr,
    Reload, Responses, TokenSource,
};
use crate::keys::Algorithm;
use crate::policy::ClaimPath;

/// Names the file in every error.
pub(super) struct Ctx<'a> {
    pub path: &'a Path,
}

impl Ctx<'_> {
    pub fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(super) fn convert(
    raw: RawConfig,
    path: &Path,
    digest: [u8; 32],
) -> Result<super::Config, ConfigError> {
    let ctx = Ctx { path };
    let listen = Listen {
        grpc: ListenAddr::parse(raw.listen.grpc.as_deref().unwrap_or("0.0.0.0:9191"))
            .map_err(|m| ctx.invalid("listen.grpc", m))?,
        admin: raw
            .listen
            .admin
            .as_deref()
            .unwrap_or("0.0.0.0:9090")
            .parse()
            .map_err(|_| {
                ctx.invalid(
                    "listen.admin",
                    "not a host:port address (e.g. 0.0.0.0:9090)",
                )
            })?,
    };
    let (keys, providers) = super::providers::convert(&ctx, raw.keys, raw.providers)?;
    let reload = Reload {
        debounce: raw
            .reload
            .debounce
            .map_or(Duration::from_millis(200), |d| d.0),
        poll_interval: raw
            .reload
            .poll_interval
            .map_or(Duration::from_secs(30), |d| d.0),
    };
    if reload.debounce > Duration::from_secs(2) {
        return Err(ctx.invalid("reload.debounce", "must be at most 2s"));
    }
    if reload.poll_interval < Duration::from_secs(1) {
        return Err(ctx.invalid("reload.poll_interval", "must be at least 1s"));
    }
    let limits = super::limits::convert(&ctx, raw.limits)?;
    let mut jwt = convert_jwt(&ctx, raw.jwt)?;
    super::providers::settle(&ctx, &mut jwt, providers)?;
    let forward = convert_forward(&ctx, raw.forward)?;
    let responses = Responses {
        realm: raw.responses.realm.unwrap_or_else(|| "jwt-authz".into()),
        expose_reason: raw.responses.expose_reason.unwrap_or(true),
    };
    if responses.realm.is_empty()
        || responses
            .realm
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control() || !c.is_ascii())
    {
        return Err(ctx.invalid(
            "responses.realm",
            "must be non-empty printable ASCII without '\"' or '\\' (it is quoted in WWW-Authenticate)",
        ));
    }
    let policy = super::rules::convert_rules(
        &ctx,
        raw.rules,
        raw.default.as_deref(),
        raw.paths,
        raw.cors_preflight.as_deref(),
    )?;
    let tests = super::decision_tests::convert(&ctx, raw.tests, &policy)?;
    Ok(super::Config {
        tests,
        path: path.to_path_buf(),
        digest,
        listen,
        keys,
        reload,
        jwt,
        policy,
        forward,
        responses,
        limits,
        shutdown_grace: raw.shutdown_grace.map_or(Duration::from_secs(5), |d| d.0),
    })
}

/// Converts the key sources listed at `prefix` (`keys`, `providers[0].keys`) for `provider`,
/// appending to `out` (a directory may be listed once in the whole file).
pub(super) fn convert_keys(
    ctx: &Ctx<'_>,
    prefix: &str,
    provider: usize,
    raw: Vec<RawKeySource>,
    out: &mut Vec<KeySource>,
) -> Result<(), ConfigError> {
    let base = ctx.path.parent().unwrap_or(Path::new("."));
    for (i, source) in raw.into_iter().enumerate() {
        let field = |name: &str| format!("{prefix}[{i}].{name}");
        if source.dir.as_os_str().is_empty() {
            return Err(ctx.invalid(field("dir"), "must not be empty"));
        }
        let label = source.dir.display().to_string();
        let dir = if source.dir.is_absolute() {
            source.dir
        } else {
            base.join(source.dir)
        };
        if out.iter().any(|s| s.dir == dir) {
            return Err(ctx.invalid(field("dir"), format!("{label} is listed twice")));
        }
        let algorithm = source
            .algorithm
            .as_deref()
            .map(|name| {
                Algorithm::from_name(name).ok_or_else(|| {
                    ctx.invalid(
                        field("algorithm"),
                        format!(
                            "unknown algorithm {name:?}: use one of {}",
                            Algorithm::names()
                        ),
                    )
                })
            })
            .transpose()?;
        let format = match source.format.as_deref().unwrap_or("files") {
            "files" => {
                let encoding = match source.encoding.as_deref().unwrap_or("raw") {
                    "raw" => KeyEncoding::Raw,
                    "base64" => KeyEncoding::Base64,
                    "pem" => KeyEncoding::Pem,
                    other => {
                        return Err(ctx.invalid(
                            field("encoding"),
                            format!("unknown encoding {other:?}: use raw, base64 or pem"),
                        ))
                    }
                };
                let Some(algorithm) = algorithm else {
                    return Err(ctx.invalid(
                        field("algorithm"),
                        "required for format: files (the one algorithm these keys verify)",
                    ));
                };
                match (encoding, algorithm.is_hmac()) {
                    (KeyEncoding::Pem, true) => {
                        return Err(ctx.invalid(
                            field("algorithm"),
                            format!("{algorithm} needs a secret, and PEM files hold public keys: use RS*, PS*, ES* or EdDSA"),
                        ))
                    }
                    (KeyEncoding::Raw | KeyEncoding::Base64, false) => {
                        return Err(ctx.invalid(
                            field("algorithm"),
                            format!("{algorithm} verifies with a public key: raw and base64 files are HMAC secrets (HS256, HS384, HS512); use encoding: pem"),
                        ))
                    }
                    _ => {}
                }
                KeyFormat::Files {
                    encoding,
                    algorithm,
                }
            }
            "jwks" => {
                if source.encoding.is_some() {
                    return Err(ctx.invalid(field("encoding"), "applies only to format: files"));
                }
                if algorithm.is_some_and(|a| {
                    !matches!(
                        a.family(),
                        crate::keys::Family::Hmac | crate::keys::Family::Rsa
                    )
                }) {
                    return Err(ctx.invalid(
                        field("algorithm"),
                        "for format: jwks it is the default of RSA and oct keys without alg (EC and OKP keys follow their curve)",
                    ));
                }
                KeyFormat::Jwks {
                    default_algorithm: algorithm,
                }
            }
            other => {
                return Err(ctx.invalid(
                    field("format"),
                    format!("unknown format {other:?}: use files or jwks"),
                ))
            }
        };
        out.push(KeySource {
            dir,
            format,
            label,
            provider,
            field: format!("{prefix}[{i}].dir"),
        });
    }
    Ok(())
}

fn convert_jwt(ctx: &Ctx<'_>, raw: RawJwt) -> Result<JwtSettings, ConfigError> {
    for (name, list) in [
        ("jwt.issuers", &raw.issuers),
        ("jwt.audiences", &raw.audiences),
    ] {
        if let Some(i) = list.iter().position(String::is_empty) {
            return Err(ctx.invalid(format!("{name}[{i}]"), "must not be empty"));
        }
    }
    let leeway = raw.leeway.map_or(Duration::from_secs(60), |d| d.0);
    if leeway > Duration::from_secs(3600) {
        return Err(ctx.invalid("jwt.leeway", "must be at most 1h"));
    }
    let max_lifetime_secs = match raw.max_lifetime {
        Some(d) if d.0.as_secs() == 0 => {
            return Err(ctx.invalid("jwt.max_lifetime", "must be at least 1s"))
        }
        other => other.map(|d| d.0.as_secs()),
    };
    let max_token_bytes = raw.max_token_bytes.unwrap_or(8192);
    if !(64..=65_536).contains(&max_token_bytes) {
        return Err(ctx.invalid("jwt.max_token_bytes", "must be between 64 and 65536"));
    }
    let sources = match raw.sources {
        None => vec![TokenSource::Header {
            name: "authorization".into(),
            prefix: Some("Bearer ".into()),
        }],
        Some(list) if list.is_empty() => {
            return Err(ctx.invalid("jwt.sources", "must list at least one source"))
        }
        Some(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, s)| convert_source(ctx, i, s))
            .collect::<Result<_, _>>()?,
    };
    Ok(JwtSettings {
        issuers: raw.issuers,
        audiences: raw.audiences,
        leeway_secs: leeway.as_secs(),
        require_exp: raw.require_exp.unwrap_or(true),
        require_kid: raw.require_kid.unwrap_or(false),
        cache_max_entries: match raw.cache.max_entries.unwrap_or(4096) {
            n if n <= 1_000_000 => n,
            _ => return Err(ctx.invalid("jwt.cache.max_entries", "must be at most 1000000")),
        },
        max_lifetime_secs,
        max_token_bytes,
        sources,
        providers: Vec::new(),
    })
}

fn convert_source(
    ctx: &Ctx<'_>,
    i: usize,
    raw: RawTokenSource,
) -> Result<TokenSource, ConfigError> {
    let field = format!("jwt.sources[{i}]");
    let has_prefix = raw.prefix.is_some();
    let source = match (raw.header, raw.cookie, raw.query) {
        (Some(h), None, None) => TokenSource::Header {
            name: header_name(ctx, &format!("{field}.header"), &h)?,
            prefix: raw.prefix,
        },
        (None, Some(c), None) => TokenSource::Cookie(c),
        (None, None, Some(q)) => TokenSource::Query(q),
        _ => return Err(ctx.invalid(field, "set exactly one of header, cookie or query")),
    };
    match &source {
        TokenSource::Header {
            prefix: Some(p), ..
        } if p.trim().is_empty() => Err(ctx.invalid(
            format!("{field}.prefix"),
            "must not be blank (omit it instead)",
        )),
        TokenSource::Cookie(n) | TokenSource::Query(n)
            if n.is_empty() || n.contains([';', '=', '&', ' ', ',']) =>
        {
            Err(ctx.invalid(
                field,
                format!("{n:?} is not a valid cookie or parameter name"),
            ))
        }
        TokenSource::Cookie(_) | TokenSource::Query(_) if has_prefix => {
            Err(ctx.invalid(format!("{field}.prefix"), "applies only to header sources"))
        }
        _ => Ok(source),
    }
}

/// Validates an HTTP header name (`http::HeaderName`: RFC 9110 token characters) and returns
/// it lower-cased.
pub(super) fn header_name(ctx: &Ctx<'_>, field: &str, name: &str) -> Result<String, ConfigError> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map(|h| h.as_str().to_string())
        .map_err(|_| ctx.invalid(field, format!("{name:?} is not a valid HTTP header name")))
}

fn convert_forward(ctx: &Ctx<'_>, raw: RawForward) -> Result<Forward, ConfigError> {
    const RESERVED: [&str; 7] = [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "cookie",
    ];
    let mut claims_to_headers = Vec::with_capacity(raw.claims_to_headers.0.len());
    for (header, claim) in raw.claims_to_headers.0 {
        let field = format!("forward.claims_to_headers.{header}");
        let name = header_name(ctx, &field, &header)?;
        if RESERVED.contains(&name.as_str()) || name == "authorization" {
            return Err(ctx.invalid(field, format!("{name} cannot carry a claim")));
        }
        if claims_to_headers.iter().any(|(h, _)| h == &name) {
            return Err(ctx.invalid(field, "header listed twice (names are case-insensitive)"));
        }
        let path = ClaimPath::parse(&claim).map_err(|m| ctx.invalid(&field, m))?;
        claims_to_headers.push((name, path));
    }
    let payload_header = raw
        .payload_header
        .map(|h| header_name(ctx, "forward.payload_header", &h))
        .transpose()?;
    if let Some(h) = &payload_header {
        if claims_to_headers.iter().any(|(c, _)| c == h) || RESERVED.contains(&h.as_str()) {
            return Err(ctx.invalid("forward.payload_header", format!("{h} is already used")));
        }
    }
    let metadata_claims = raw
        .metadata_claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            ClaimPath::parse(c).map_err(|m| ctx.invalid(format!("forward.metadata_claims[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    let max_value_bytes = raw.max_value_bytes.unwrap_or(4096);
    if !(16..=65_536).contains(&max_value_bytes) {
        return Err(ctx.invalid("forward.max_value_bytes", "must be between 16 and 65536"));
    }
    Ok(Forward {
        claims_to_headers,
        payload_header,
        strip_token: raw.strip_token,
        metadata_claims,
        max_value_bytes,
    })
}
