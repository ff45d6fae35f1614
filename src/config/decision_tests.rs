//! `tests:`: the decisions a policy must keep making, written next to its rules. Parsed and
//! validated here (a rule or reason a test names must exist); run by [`crate::decisions`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::convert::Ctx;
use super::ConfigError;
use crate::policy::Policy;
use crate::reason::DenyReason;

/// One entry of `tests:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecisionTest {
    name: String,
    request: RawTestRequest,
    #[serde(default)]
    claims: Option<serde_json::Value>,
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTestRequest {
    method: Option<String>,
    path: String,
    host: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    peer: Option<String>,
    source_ip: Option<String>,
    #[serde(default)]
    context_extensions: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    decision: String,
    rule: Option<String>,
    reason: Option<String>,
}

/// The request of a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRequest {
    /// HTTP method (default GET).
    pub method: String,
    /// Path (with a query, if any).
    pub path: String,
    /// Host (default `localhost`).
    pub host: String,
    /// Request headers (names lower case).
    pub headers: Vec<(String, String)>,
    /// The mTLS peer (`source.principal`).
    pub peer: Option<String>,
    /// The peer's address (`source.address`).
    pub source_ip: Option<String>,
    /// The route's `context_extensions`.
    pub context_extensions: Vec<(String, String)>,
}

/// What a test expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// True: allow; false: deny.
    pub allow: bool,
    /// The rule that must decide (`None`: any).
    pub rule: Option<String>,
    /// The reason label that must be given (`None`: any).
    pub reason: Option<String>,
}

/// One decision test.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionTest {
    /// Its name (unique).
    pub name: String,
    /// The request.
    pub request: TestRequest,
    /// The token's claims, taken as verified; `None`: no token.
    pub claims: Option<serde_json::Map<String, serde_json::Value>>,
    /// The expectation.
    pub expect: Expect,
}

const ALLOW_REASONS: [&str; 3] = ["ok", "public", "shadow"];

/// Validates `tests:` against the policy it tests.
pub(super) fn convert(
    ctx: &Ctx<'_>,
    raw: Vec<RawDecisionTest>,
    policy: &Policy,
) -> Result<Vec<DecisionTest>, ConfigError> {
    let mut out: Vec<DecisionTest> = Vec::with_capacity(raw.len());
    for (i, t) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("tests[{i}]{f}");
        if t.name.is_empty() {
            return Err(ctx.invalid(field(".name"), "must not be empty"));
        }
        if out.iter().any(|o| o.name == t.name) {
            return Err(ctx.invalid(field(".name"), format!("{:?} is used twice", t.name)));
        }
        let allow = match t.expect.decision.as_str() {
            "allow" => true,
            "deny" => false,
            other => {
                return Err(ctx.invalid(
                    field(".expect.decision"),
                    format!("{other:?}: use allow or deny"),
                ))
            }
        };
        if let Some(rule) = &t.expect.rule {
            if policy.rule(rule).is_none() {
                return Err(ctx.invalid(
                    field(".expect.rule"),
                    format!(
                        "test {:?} expects rule {rule:?}, which does not exist",
                        t.name
                    ),
                ));
            }
        }
        if let Some(reason) = &t.expect.reason {
            let known = if allow {
                ALLOW_REASONS.contains(&reason.as_str())
            } else {
                DenyReason::ALL.iter().any(|r| r.as_label() == reason)
            };
            if !known {
                return Err(ctx.invalid(
                    field(".expect.reason"),
                    format!(
                        "{reason:?} is not a reason of {}",
                        if allow {
                            "an allow (ok, public, shadow)"
                        } else {
                            "a deny (missing_token, claim_mismatch, ...)"
                        }
                    ),
                ));
            }
        }
        let claims = match t.claims {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(ctx.invalid(
                    field(".claims"),
                    "the token's claims as a mapping, or null for no token",
                ))
            }
        };
        if !t.request.path.starts_with('/') {
            return Err(ctx.invalid(field(".request.path"), "must start with /"));
        }
        out.push(DecisionTest {
            name: t.name,
            request: TestRequest {
                method: t
                    .request
                    .method
                    .unwrap_or_else(|| "GET".into())
                    .to_ascii_uppercase(),
                path: t.request.path,
                host: t.request.host.unwrap_or_else(|| "localhost".into()),
                headers: t
                    .request
                    .headers
                    .into_iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect(),
                peer: t.request.peer,
                source_ip: t.request.source_ip,
                context_extensions: t.request.context_extensions.into_iter().collect(),
            },
            claims,
            expect: Expect {
                allow,
                rule: t.expect.rule,
                reason: t.expect.reason,
            },
        });
    }
    Ok(out)
}
