//! `rules:` and `default:` → [`Policy`], with every field validated: unique names, compiled
//! regexes, normalized paths, known operators.

use std::collections::HashSet;

use super::convert::Ctx;
use super::matchers::convert_match;
use super::raw::{RawClaimRequirement, RawPaths, RawRequire, RawRule};
use super::ConfigError;
use crate::policy::{
    ClaimCheck, ClaimOp, ClaimPath, DefaultAction, Mode, Parameters, PathMatch, PathOptions,
    Policy, Requirement, Rule,
};

/// `any_of` may nest this deep.
const MAX_ANY_OF_DEPTH: usize = 4;

pub(super) fn convert_rules(
    ctx: &Ctx<'_>,
    raw: Vec<RawRule>,
    default: Option<&str>,
    paths: RawPaths,
    cors_preflight: Option<&str>,
) -> Result<Policy, ConfigError> {
    let cors_preflight = match cors_preflight.unwrap_or("deny") {
        "deny" => false,
        "allow" => true,
        other => return Err(ctx.invalid("cors_preflight", format!("{other:?}: use deny or allow"))),
    };
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
        let matcher = convert_match(ctx, &format!("{field}.match"), r.matcher, &paths)?;
        let params: &[String] = match &matcher.path {
            PathMatch::Template(t) => &t.params,
            _ => &[],
        };
        let scope = Scope {
            rule: &r.name,
            rule_field: &field,
            params,
        };
        let require = match r.require {
            Some(req) => convert_require(ctx, &format!("{field}.require"), req, 0, &scope)?,
            None => Requirement::default(),
        };
        if r.deny && (r.public || !require.is_empty()) {
            return Err(ctx.invalid(
                format!("{field}.deny"),
                "a deny rule denies every request it matches: it has no public or require",
            ));
        }
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
            matcher,
            public: r.public,
            deny: r.deny,
            require,
            mode,
        });
    }
    let mut policy = Policy::new(rules, default, paths);
    policy.cors_preflight = cors_preflight;
    Ok(policy)
}

/// What a requirement may refer to: its rule's captures.
struct Scope<'a> {
    rule: &'a str,
    rule_field: &'a str,
    params: &'a [String],
}

fn convert_require(
    ctx: &Ctx<'_>,
    field: &str,
    raw: RawRequire,
    depth: usize,
    scope: &Scope<'_>,
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
        .map(|(i, c)| convert_claim(ctx, &format!("{field}.claims[{i}]"), c, scope, false))
        .collect::<Result<_, _>>()?;
    let any_of = raw
        .any_of
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("{field}.any_of[{i}]");
            let req = convert_require(ctx, &f, r, depth + 1, scope)?;
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
    scope: &Scope<'_>,
    negated: bool,
) -> Result<ClaimCheck, ConfigError> {
    if let Some(inner) = raw.not {
        let alone = raw.claim.is_none()
            && raw.equals.is_none()
            && raw.one_of.is_none()
            && raw.contains.is_none()
            && raw.prefix.is_none()
            && raw.exists.is_none()
            && raw.equals_param.is_none();
        if !alone {
            return Err(ctx.invalid(
                field,
                "not: holds the whole requirement ({ not: { claim: x, equals: y } }): nothing beside it",
            ));
        }
        if negated {
            return Err(ctx.invalid(
                format!("{field}.not"),
                "not inside not: write the requirement itself",
            ));
        }
        let check = convert_claim(ctx, &format!("{field}.not"), *inner, scope, true)?;
        return Ok(ClaimCheck {
            negate: true,
            description: format!("not ({})", check.description),
            ..check
        });
    }
    let Some(claim) = raw.claim else {
        return Err(ctx.invalid(format!("{field}.claim"), "required (the claim to check)"));
    };
    let path = ClaimPath::parse(&claim).map_err(|m| ctx.invalid(format!("{field}.claim"), m))?;
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
    if let Some(name) = raw.equals_param {
        let Some(i) = scope.params.iter().position(|p| *p == name) else {
            return Err(ctx.invalid(
                format!("{field}.equals_param"),
                format!(
                    "{name:?} is not captured by rule {:?} ({}): its match.path_template must have {{{name}}}",
                    scope.rule, scope.rule_field
                ),
            ));
        };
        ops.push((
            format!("equals_param {name} (the captured segment)"),
            ClaimOp::EqualsParam(i),
        ));
    }
    if ops.len() != 1 {
        return Err(ctx.invalid(
            field,
            "set exactly one operator: equals, one_of, contains, prefix, exists or equals_param (or not: around one)",
        ));
    }
    let (text, op) = ops.pop().expect("one operator");
    Ok(ClaimCheck {
        description: format!("{} {text}", path.as_str()),
        path,
        op,
        negate: false,
    })
}
