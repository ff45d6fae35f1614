//! `rules:` and `default:` → [`Policy`], with every field validated: unique names, compiled
//! regexes, normalized paths, known operators.

use std::collections::HashSet;

use regex::RegexBuilder;

use super::convert::Ctx;
use super::raw::{RawClaimRequirement, RawMatch, RawPaths, RawRequire, RawRule};
use super::ConfigError;
use crate::policy::{
    normalize, ClaimCheck, ClaimOp, ClaimPath, DefaultAction, HostPattern, Matcher, Mode,
    Parameters, PathMatch, PathOptions, Policy, Requirement, Rule,
};

/// Compiled regex programs larger than this are refused.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// `any_of` may nest this deep.
const MAX_ANY_OF_DEPTH: usize = 4;

pub(super) fn convert_rules(
    ctx: &Ctx<'_>,
    raw: Vec<RawRule>,
    default: Option<&str>,
    paths: RawPaths,
) -> Result<Policy, ConfigError> {
    let paths = PathOptions {
        case_insensitive: paths.case_insensitive.unwrap_or(false),
        parameters: match paths.parameters.as_deref().unwrap_or("reject") {
            "reject" => Parameters::Reject,
            "strip" => Parameters::Strip,
            other => {
                return Err(ctx.invalid(
                    "paths.parameters",
                    format!("{other:?}: use reject or strip"),
                ))
            }
        },
    };
    let default = match default.unwrap_or("deny") {
        "deny" => DefaultAction::Deny,
        "allow" => DefaultAction::Allow,
        other => {
            return Err(ctx.invalid("default", format!("{other:?}: use deny or allow")));
        }
    };
    let mut names = HashSet::new();
    let mut rules = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let field = format!("rules[{i}]");
        let valid_name = !r.name.is_empty()
            && r.name.len() <= 64
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        if !valid_name {
            return Err(ctx.invalid(
                format!("{field}.name"),
                format!("{:?}: 1-64 characters of A-Z a-z 0-9 - _ . :", r.name),
            ));
        }
        if !names.insert(r.name.clone()) {
            return Err(ctx.invalid(
                format!("{field}.name"),
                format!("{:?} is used twice", r.name),
            ));
        }
        let mode = match r.mode.as_deref().unwrap_or("enforce") {
            "enforce" => Mode::Enforce,
            "shadow" => Mode::Shadow,
            other => {
                return Err(ctx.invalid(
                    format!("{field}.mode"),
                    format!("{other:?}: use enforce or shadow"),
                ))
            }
        };
        let require = match r.require {
            Some(req) => convert_require(ctx, &format!("{field}.require"), req, 0)?,
            None => Requirement::default(),
        };
        if r.public && !require.is_empty() {
            return Err(ctx.invalid(
                format!("{field}.require"),
                "a public rule cannot have requirements",
            ));
        }
        if r.public && mode == Mode::Shadow {
            return Err(ctx.invalid(
                format!("{field}.mode"),
                "a public rule has nothing to shadow",
            ));
        }
        rules.push(Rule {
            index: i,
            name: r.name,
            matcher: convert_match(ctx, &format!("{field}.match"), r.matcher, &paths)?,
            public: r.public,
            require,
            mode,
        });
    }
    Ok(Policy::new(rules, default, paths))
}

fn convert_match(
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
    let path = match (raw.path, raw.path_prefix, raw.path_regex) {
        (None, None, None) => PathMatch::Any,
        (Some(p), None, None) => {
            PathMatch::Exact(normalized(ctx, &format!("{field}.path"), p, paths)?)
        }
        (None, Some(p), None) => {
            PathMatch::Prefix(normalized(ctx, &format!("{field}.path_prefix"), p, paths)?)
        }
        (None, None, Some(re)) => {
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
            return Err(ctx.invalid(field, "use only one of path, path_prefix, path_regex"));
        }
    };
    Ok(Matcher {
        hosts,
        methods,
        path,
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

fn convert_require(
    ctx: &Ctx<'_>,
    field: &str,
    raw: RawRequire,
    depth: usize,
) -> Result<Requirement, ConfigError> {
    if depth > MAX_ANY_OF_DEPTH {
        return Err(ctx.invalid(
            field,
            format!("any_of nests deeper than {MAX_ANY_OF_DEPTH}"),
        ));
    }
    for (i, s) in raw.scopes.iter().enumerate() {
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
            return Err(ctx.invalid(
                format!("{field}.scopes[{i}]"),
                format!("{s:?} is not a scope token"),
            ));
        }
    }
    let claims = raw
        .claims
        .into_iter()
        .enumerate()
        .map(|(i, c)| convert_claim(ctx, &format!("{field}.claims[{i}]"), c))
        .collect::<Result<_, _>>()?;
    let any_of = raw
        .any_of
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("{field}.any_of[{i}]");
            let req = convert_require(ctx, &f, r, depth + 1)?;
            if req.is_empty() {
                return Err(ctx.invalid(f, "an empty alternative would always match"));
            }
            Ok(req)
        })
        .collect::<Result<_, _>>()?;
    Ok(Requirement {
        scopes: raw.scopes,
        claims,
        any_of,
    })
}

fn convert_claim(
    ctx: &Ctx<'_>,
    field: &str,
    raw: RawClaimRequirement,
) -> Result<ClaimCheck, ConfigError> {
    let path =
        ClaimPath::parse(&raw.claim).map_err(|m| ctx.invalid(format!("{field}.claim"), m))?;
    let mut ops = Vec::new();
    if let Some(v) = raw.equals {
        ops.push((format!("equals {v}"), ClaimOp::Equals(v)));
    }
    if let Some(list) = raw.one_of {
        if list.is_empty() {
            return Err(ctx.invalid(format!("{field}.one_of"), "must list at least one value"));
        }
        let text = serde_json::Value::Array(list.clone());
        ops.push((format!("one_of {text}"), ClaimOp::OneOf(list)));
    }
    if let Some(v) = raw.contains {
        ops.push((format!("contains {v}"), ClaimOp::Contains(v)));
    }
    if let Some(p) = raw.prefix {
        ops.push((format!("prefix {p:?}"), ClaimOp::Prefix(p)));
    }
    if let Some(e) = raw.exists {
        ops.push((format!("exists {e}"), ClaimOp::Exists(e)));
    }
    if ops.len() != 1 {
        return Err(ctx.invalid(
            field,
            "set exactly one operator: equals, one_of, contains, prefix or exists",
        ));
    }
    let (text, op) = ops.pop().expect("one operator");
    Ok(ClaimCheck {
        description: format!("{} {text}", path.as_str()),
        path,
        op,
    })
}
