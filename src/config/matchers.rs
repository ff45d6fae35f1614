//! `rules[].match` → [`Matcher`]: hosts, methods, one path condition (literal, prefix, regex or
//! template, each written normalized), request headers, mTLS peers and source CIDRs.

use regex::RegexBuilder;

use super::convert::Ctx;
use super::raw::{RawHeaderCondition, RawMatch};
use super::ConfigError;
use crate::policy::{
    normalize, Cidr, HeaderCondition, HeaderOp, HostPattern, Matcher, PathMatch, PathOptions,
    PeerPattern, Template,
};

/// Compiled regex programs larger than this are refused.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

pub(super) fn convert_match(
    ctx: &Ctx<'_>,
    field: &str,
    raw: RawMatch,
    paths: &PathOptions,
) -> Result<Matcher, ConfigError> {
    let mut hosts = Vec::with_capacity(raw.hosts.len());
    for (i, h) in raw.hosts.iter().enumerate() {
        let f = format!("{field}.hosts[{i}]");
        let pattern = if h == "*" {
            HostPattern::Any
        } else if let Some(rest) = h.strip_prefix("*.") {
            HostPattern::Suffix(format!(".{}", host(ctx, &f, rest)?))
        } else {
            HostPattern::Exact(host(ctx, &f, h)?)
        };
        hosts.push(pattern);
    }
    let mut methods = Vec::with_capacity(raw.methods.len());
    for (i, m) in raw.methods.iter().enumerate() {
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(ctx.invalid(
                format!("{field}.methods[{i}]"),
                format!("{m:?} is not an HTTP method"),
            ));
        }
        methods.push(m.to_ascii_uppercase());
    }
    let path = match (raw.path, raw.path_prefix, raw.path_regex, raw.path_template) {
        (None, None, None, None) => PathMatch::Any,
        (Some(p), None, None, None) => {
            PathMatch::Exact(normalized(ctx, &format!("{field}.path"), p, paths)?)
        }
        (None, Some(p), None, None) => {
            PathMatch::Prefix(normalized(ctx, &format!("{field}.path_prefix"), p, paths)?)
        }
        (None, None, None, Some(t)) => {
            let f = format!("{field}.path_template");
            let mut template = Template::parse(&t).map_err(|m| ctx.invalid(&f, m))?;
            if paths.case_insensitive {
                template.lowercase_literals();
            }
            let literal = template.literal_form();
            normalized(ctx, &f, literal, paths)?;
            PathMatch::Template(template)
        }
        (None, None, Some(re), None) => {
            let regex = RegexBuilder::new(&format!("^(?:{re})$"))
                .case_insensitive(paths.case_insensitive)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    ctx.invalid(format!("{field}.path_regex"), format!("invalid regex: {e}"))
                })?;
            PathMatch::Regex(regex)
        }
        _ => {
            return Err(ctx.invalid(
                field,
                "use only one of path, path_prefix, path_regex, path_template",
            ));
        }
    };
    let headers = raw
        .headers
        .into_iter()
        .enumerate()
        .map(|(i, h)| header(ctx, &format!("{field}.headers[{i}]"), h))
        .collect::<Result<_, _>>()?;
    let peers = raw
        .peers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            PeerPattern::parse(p).map_err(|m| ctx.invalid(format!("{field}.peers[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    let source_ips = raw
        .source_ips
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Cidr::parse(c).map_err(|m| ctx.invalid(format!("{field}.source_ips[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    Ok(Matcher {
        hosts,
        methods,
        path,
        headers,
        peers,
        source_ips,
    })
}

/// One `match.headers` entry: a valid header name (lower-cased) and exactly one operator.
fn header(
    ctx: &Ctx<'_>,
    field: &str,
    raw: RawHeaderCondition,
) -> Result<HeaderCondition, ConfigError> {
    let name = raw.name.to_ascii_lowercase();
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ctx.invalid(
            format!("{field}.name"),
            format!("{:?} is not a header name", raw.name),
        ));
    }
    let mut ops = Vec::new();
    if let Some(v) = raw.equals {
        ops.push(HeaderOp::Equals(v));
    }
    if let Some(list) = raw.one_of {
        if list.is_empty() {
            return Err(ctx.invalid(format!("{field}.one_of"), "must list at least one value"));
        }
        ops.push(HeaderOp::OneOf(list));
    }
    if let Some(p) = raw.prefix {
        ops.push(HeaderOp::Prefix(p));
    }
    if let Some(e) = raw.exists {
        ops.push(HeaderOp::Exists(e));
    }
    if ops.len() != 1 {
        return Err(ctx.invalid(
            field,
            "set exactly one operator: equals, one_of, prefix or exists",
        ));
    }
    Ok(HeaderCondition {
        name,
        op: ops.pop().expect("one operator"),
    })
}

/// A host of `match.hosts`, parsed by `http::uri::Authority` as request hosts are: lower-cased,
/// IPv6 literals in brackets, no port, no userinfo, no wildcard but a leading `*.`.
fn host(ctx: &Ctx<'_>, field: &str, text: &str) -> Result<String, ConfigError> {
    let invalid = |why: &str| ctx.invalid(field, format!("{text:?}: {why}"));
    let parsed = http::uri::Authority::try_from(text).map_err(|_| {
        invalid("not a host name (use exact names, *.suffix or *; IPv6 in brackets: [::1])")
    })?;
    if parsed.port().is_some() {
        return Err(invalid(
            "write hosts without a port (ports are ignored when matching)",
        ));
    }
    if text.contains(['@', '*']) || text.is_empty() {
        return Err(invalid("not a host name (use exact names, *.suffix or *)"));
    }
    let host = parsed.host().to_ascii_lowercase();
    Ok(host.strip_suffix('.').map(str::to_string).unwrap_or(host))
}

/// A rule's literal path, which must be written normalized (lower case is not required when
/// paths compare case-insensitively: the literal is lower-cased like the request's path).
fn normalized(
    ctx: &Ctx<'_>,
    field: &str,
    p: String,
    paths: &PathOptions,
) -> Result<String, ConfigError> {
    let p = if paths.case_insensitive {
        p.to_ascii_lowercase()
    } else {
        p
    };
    match normalize(&p, paths) {
        Ok(n) if n == p => Ok(p),
        Ok(n) => Err(ctx.invalid(
            field,
            format!(
                "{p:?} is not normalized; write {n:?} (requests are matched after normalization)"
            ),
        )),
        Err(why) => Err(ctx.invalid(field, format!("{p:?}: {why}"))),
    }
}
