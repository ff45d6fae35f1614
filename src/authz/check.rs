//! The decision for one request, as a pure function of the request view, the snapshot and the
//! clock. The gRPC service, `explain`, the benches and the fuzzers all call [`decide`].

use std::borrow::Cow;

use crate::config::Config;
use crate::jwt::{self, Found, KeyMiss, TokenCache, TokenError, Verified};
use crate::keys::{Key, KeyRing};
use crate::policy::{self, DefaultAction, Failure, Mode, Params, Rule, Selection, RULE_EXTENSION};
use crate::reason::DenyReason;
use crate::request::RequestView;

/// No key is loaded (or none of the token's provider) and the request needs one: the server
/// cannot decide (gRPC UNAVAILABLE, so Envoy applies its `failure_mode_allow` /
/// `status_on_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable;

/// How a request was allowed.
#[derive(Debug)]
pub enum AllowKind<'s> {
    /// A valid token satisfied the rule (or there are no rules, or the default allows).
    Token,
    /// The rule is public: no token needed, none was looked at.
    Public,
    /// A shadow rule would have denied for this reason; the request passes.
    Shadow(Deny<'s>),
}

/// An allow.
#[derive(Debug)]
pub struct Allow<'s, 't> {
    /// The rule that applied, if any.
    pub rule: Option<&'s Rule>,
    /// The verified token, when there is one.
    pub token: Option<Verified<'s, 't>>,
    /// Where the credential was found (for `strip_token`).
    pub found: Option<Found<'t>>,
    /// Why it was allowed.
    pub kind: AllowKind<'s>,
}

/// A deny.
#[derive(Debug)]
pub struct Deny<'s> {
    /// The closed reason.
    pub reason: DenyReason,
    /// A precise sentence for logs and `explain`.
    pub detail: Cow<'static, str>,
    /// The rule that applied, if any.
    pub rule: Option<&'s Rule>,
    /// The key that verified the token (policy denies only).
    pub key: Option<&'s Key>,
    /// Scopes the rule requires and the token lacks (`insufficient_scope`).
    pub missing_scopes: Vec<&'s str>,
    /// `unknown_kid` for this remote provider: a refetch of its keys may find the kid.
    pub refetch: Option<usize>,
}

/// The decision.
#[derive(Debug)]
pub enum Decision<'s, 't> {
    /// Let the request through.
    Allow(Allow<'s, 't>),
    /// Refuse it.
    Deny(Deny<'s>),
}

impl<'s> Deny<'s> {
    fn new(
        reason: DenyReason,
        detail: impl Into<Cow<'static, str>>,
        rule: Option<&'s Rule>,
    ) -> Self {
        Self {
            reason,
            detail: detail.into(),
            rule,
            key: None,
            missing_scopes: Vec::new(),
            refetch: None,
        }
    }

    fn from_token(e: TokenError, rule: Option<&'s Rule>) -> Self {
        Self {
            refetch: match e.miss {
                Some(KeyMiss::UnknownKid(p)) => Some(p),
                _ => None,
            },
            ..Self::new(e.reason, e.detail, rule)
        }
    }
}

/// Decides one request, without a verified-token cache. `now` is Unix time in seconds.
pub fn decide<'s, 't>(
    view: &RequestView<'t>,
    config: &'s Config,
    keys: &'s KeyRing,
    now: u64,
) -> Result<Decision<'s, 't>, Unavailable> {
    decide_with(view, config, keys, &TokenCache::off(), now)
}

/// Decides one request, asking `cache` before verifying a token (and remembering a token
/// that verified). `now` is Unix time in seconds.
pub fn decide_with<'s, 't>(
    view: &RequestView<'t>,
    config: &'s Config,
    keys: &'s KeyRing,
    cache: &TokenCache,
    now: u64,
) -> Result<Decision<'s, 't>, Unavailable> {
    let path = match policy::normalize(view.path, &config.policy.paths) {
        Ok(p) => p,
        Err(why) => {
            return Ok(Decision::Deny(Deny::new(
                DenyReason::AmbiguousPath,
                why,
                None,
            )))
        }
    };
    let extract = || jwt::extract(view, &config.jwt.sources, config.limits.max_header_bytes);
    if config.policy.cors_preflight && is_cors_preflight(view) {
        // Browsers send preflights without credentials: let them through as public.
        let found = if config.forward.strip_token {
            extract().ok().flatten()
        } else {
            None
        };
        return Ok(Decision::Allow(Allow {
            rule: None,
            token: None,
            found,
            kind: AllowKind::Public,
        }));
    }
    let named = view.context_extension(RULE_EXTENSION);
    let (selection, captures) = config.policy.select(named, view, &path);
    let params = Params {
        path: &path,
        captures,
    };
    let rule = match selection {
        Selection::Rule(r) => Some(r),
        Selection::UnknownName => {
            return Ok(Decision::Deny(Deny::new(
                DenyReason::NoMatchingRule,
                "context_extensions names a rule that does not exist",
                None,
            )))
        }
        Selection::NoRules | Selection::NoMatch => None,
    };
    if let Some(r) = rule.filter(|r| r.deny) {
        // The token is not looked at (only found, when it must be stripped).
        let found = if config.forward.strip_token {
            extract().ok().flatten()
        } else {
            None
        };
        let deny = Deny::new(DenyReason::DeniedByRule, "a deny rule matched", Some(r));
        return Ok(finish(
            Err(deny),
            Some(r),
            None,
            found,
            r.mode == Mode::Shadow,
        ));
    }
    if let Some(r) = rule.filter(|r| r.public) {
        // The token is ignored; it is looked for only when it must be stripped.
        let found = if config.forward.strip_token {
            extract().ok().flatten()
        } else {
            None
        };
        return Ok(Decision::Allow(Allow {
            rule: Some(r),
            token: None,
            found,
            kind: AllowKind::Public,
        }));
    }
    let found = extract();
    if keys.is_empty() {
        return Err(Unavailable);
    }
    let shadow = rule.is_some_and(|r| r.mode == Mode::Shadow);
    let outcome = match found {
        Err(e) => Err(Deny::from_token(e, rule)),
        Ok(None) => Err(Deny::new(
            DenyReason::MissingToken,
            "no token in the request",
            rule,
        )),
        Ok(Some(f)) => match verify(f.token, keys, config, cache, now) {
            Err(TokenError {
                miss: Some(KeyMiss::NoKeys(_)),
                ..
            }) => return Err(Unavailable),
            Err(e) => Err(Deny::from_token(e, rule)),
            Ok(verified) => {
                let policy_result =
                    authorize(&verified, rule, selection, config.policy.default, &params);
                return Ok(finish(
                    policy_result,
                    rule,
                    Some(verified),
                    found.ok().flatten(),
                    shadow,
                ));
            }
        },
    };
    Ok(finish(outcome, rule, None, found.ok().flatten(), shadow))
}

/// The token's verification: from the cache when it holds the token, else verified now and
/// remembered when it verifies.
fn verify<'s, 't>(
    token: &'t str,
    keys: &'s KeyRing,
    config: &Config,
    cache: &TokenCache,
    now: u64,
) -> Result<Verified<'s, 't>, TokenError> {
    if let Some(cached) = cache.get(token, keys, config.jwt.leeway_secs, now) {
        return cached;
    }
    let verified = jwt::verify(token, keys, &config.jwt, &config.limits, now)?;
    cache.insert(token, &verified);
    Ok(verified)
}

/// Applies the rule's requirements (or the default) to a verified token.
fn authorize<'s>(
    verified: &Verified<'s, '_>,
    rule: Option<&'s Rule>,
    selection: Selection<'s>,
    default: DefaultAction,
    params: &Params<'_>,
) -> Result<(), Deny<'s>> {
    let key = Some(verified.key);
    let Some(r) = rule else {
        return match (selection, default) {
            (Selection::NoMatch, DefaultAction::Deny) => Err(Deny {
                key,
                ..Deny::new(
                    DenyReason::NoMatchingRule,
                    "no rule matches and default is deny",
                    None,
                )
            }),
            _ => Ok(()),
        };
    };
    r.require
        .check(verified.claims.root(), params)
        .map_err(|failure| {
            let detail = failure.describe();
            match failure {
                Failure::MissingScopes(missing) => Deny {
                    key,
                    missing_scopes: missing,
                    ..Deny::new(DenyReason::InsufficientScope, detail, rule)
                },
                Failure::Claim(_) => Deny {
                    key,
                    ..Deny::new(DenyReason::ClaimMismatch, detail, rule)
                },
            }
        })
}

fn finish<'s, 't>(
    outcome: Result<(), Deny<'s>>,
    rule: Option<&'s Rule>,
    token: Option<Verified<'s, 't>>,
    found: Option<Found<'t>>,
    shadow: bool,
) -> Decision<'s, 't> {
    let kind = match outcome {
        Ok(()) => AllowKind::Token,
        Err(deny) if shadow => AllowKind::Shadow(deny),
        Err(deny) => return Decision::Deny(deny),
    };
    Decision::Allow(Allow {
        rule,
        token,
        found,
        kind,
    })
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method` (the Fetch
/// standard's definition, and Envoy jwt_authn's `bypass_cors_preflight`).
fn is_cors_preflight(view: &RequestView<'_>) -> bool {
    view.method == "OPTIONS"
        && view.header("origin").is_ok_and(|v| v.is_some())
        && view
            .header("access-control-request-method")
            .is_ok_and(|v| v.is_some())
}
