//! What a rule requires of the verified claims: scopes (all of), claim checks (all of), and
//! `any_of` alternatives (at least one). Evaluation allocates only when it fails.

use serde_json::Value;

use super::ClaimPath;
use crate::jwt::{ClaimValue, ValueKind};

/// A claim operator.
#[derive(Clone, Debug, PartialEq)]
pub enum ClaimOp {
    /// The value equals this one (numbers compare by value: 1 == 1.0).
    Equals(Value),
    /// The value (or, for an array claim, one of its elements) is one of these.
    OneOf(Vec<Value>),
    /// An array claim has this element, or a space-delimited string claim has this word.
    Contains(Value),
    /// A string claim (or an element of an array claim) starts with this.
    Prefix(String),
    /// The claim is present (`true`) or absent (`false`).
    Exists(bool),
    /// A string claim (or an element of an array claim) equals the segment the rule's path
    /// template captured as this parameter (its index in the template).
    EqualsParam(usize),
}

/// The segments a rule's path template captured for this request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Params<'p> {
    /// The normalized path the template matched.
    pub path: &'p str,
    /// What it captured.
    pub captures: super::Captures,
}

impl<'p> Params<'p> {
    /// The `i`th captured segment.
    pub fn get(&self, i: usize) -> Option<&'p str> {
        self.captures.get(self.path, i)
    }
}

/// One claim requirement, with its description for logs and `explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimCheck {
    /// Where the claim is.
    pub path: ClaimPath,
    /// What must hold.
    pub op: ClaimOp,
    /// `not:`: the check holds when the operator does not.
    pub negate: bool,
    /// e.g. `realm_access.roles contains "admin"`, `not (status equals "suspended")`.
    pub description: String,
}

/// A requirement: all scopes, all claims, and one of `any_of` when it is not empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Requirement {
    /// Scopes the token must carry.
    pub scopes: Vec<String>,
    /// Claim checks that must all hold.
    pub claims: Vec<ClaimCheck>,
    /// Alternatives of which at least one must hold.
    pub any_of: Vec<Requirement>,
}

/// Why a requirement failed.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure<'a> {
    /// These required scopes are missing.
    MissingScopes(Vec<&'a str>),
    /// This claim check failed.
    Claim(&'a ClaimCheck),
}

impl Failure<'_> {
    /// A sentence for logs and `explain`.
    pub fn describe(&self) -> String {
        match self {
            Failure::MissingScopes(s) => format!("missing scope(s): {}", s.join(" ")),
            Failure::Claim(c) => format!("claim requirement failed: {}", c.description),
        }
    }
}

impl Requirement {
    /// True when nothing is required.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty() && self.claims.is_empty() && self.any_of.is_empty()
    }

    /// Checks the claims. When every `any_of` alternative fails, the first one's failure is
    /// reported.
    pub fn check<'a>(
        &'a self,
        claims: ClaimValue<'_>,
        params: &Params<'_>,
    ) -> Result<(), Failure<'a>> {
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .filter(|s| !has_scope(claims, s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Failure::MissingScopes(missing));
        }
        if let Some(failed) = self.claims.iter().find(|c| !c.holds(claims, params)) {
            return Err(Failure::Claim(failed));
        }
        let mut first_failure = None;
        for alt in &self.any_of {
            match alt.check(claims, params) {
                Ok(()) => return Ok(()),
                Err(f) => {
                    first_failure.get_or_insert(f);
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }
}

/// Scopes come from `scope` (space-delimited, RFC 8693 §4.2) or `scp` (array or string).
pub fn has_scope(claims: ClaimValue<'_>, wanted: &str) -> bool {
    let in_words = |v: ClaimValue<'_>| {
        v.as_str()
            .is_some_and(|s| s.split_ascii_whitespace().any(|w| w == wanted))
    };
    claims.get("scope").is_some_and(in_words)
        || claims.get("scp").is_some_and(|scp| match scp.kind() {
            ValueKind::Array => scp
                .elements()
                .any(|i| i.as_str().as_deref() == Some(wanted)),
            _ => in_words(scp),
        })
}

/// A claim equals a configured value (numbers compared by value: 1 == 1.0).
fn json_eq(claim: ClaimValue<'_>, expected: &Value) -> bool {
    match (claim.kind(), expected) {
        (ValueKind::Number, Value::Number(n)) => match (claim.as_i64(), n.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => claim.as_f64().is_some_and(|a| Some(a) == n.as_f64()),
        },
        (ValueKind::String, Value::String(s)) => claim.as_str().is_some_and(|c| c == s.as_str()),
        (ValueKind::Bool, Value::Bool(b)) => claim.as_bool() == Some(*b),
        (ValueKind::Null, Value::Null) => true,
        (ValueKind::Array, Value::Array(items)) => {
            claim.elements().count() == items.len()
                && claim.elements().zip(items).all(|(c, e)| json_eq(c, e))
        }
        // Members are unique (the parser refuses duplicates): same count, same members.
        (ValueKind::Object, Value::Object(members)) => {
            claim.members().count() == members.len()
                && members
                    .iter()
                    .all(|(k, e)| claim.get(k).is_some_and(|c| json_eq(c, e)))
        }
        _ => false,
    }
}

impl ClaimCheck {
    /// True when the check holds for `claims` (and the rule's captured `params`).
    pub fn holds(&self, claims: ClaimValue<'_>, params: &Params<'_>) -> bool {
        self.op_holds(claims, params) != self.negate
    }

    fn op_holds(&self, claims: ClaimValue<'_>, params: &Params<'_>) -> bool {
        let p = &self.path;
        let starts =
            |v: ClaimValue<'_>, prefix: &str| v.as_str().is_some_and(|s| s.starts_with(prefix));
        match &self.op {
            ClaimOp::EqualsParam(i) => {
                // No capture (a named rule whose template did not match): never equal.
                let Some(segment) = params.get(*i) else {
                    return false;
                };
                let is = |v: ClaimValue<'_>| v.as_str().is_some_and(|s| s == segment);
                p.any(claims, |v| match v.kind() {
                    ValueKind::Array => v.elements().any(is),
                    _ => is(v),
                })
            }
            ClaimOp::Exists(want) => p.any(claims, |_| true) == *want,
            ClaimOp::Equals(expected) => p.any(claims, |v| json_eq(v, expected)),
            ClaimOp::OneOf(options) => p.any(claims, |v| {
                let is_option = |x: ClaimValue<'_>| options.iter().any(|o| json_eq(x, o));
                match v.kind() {
                    ValueKind::Array => v.elements().any(is_option),
                    _ => is_option(v),
                }
            }),
            ClaimOp::Contains(needle) => p.any(claims, |v| match (v.kind(), needle) {
                (ValueKind::Array, n) => v.elements().any(|i| json_eq(i, n)),
                (ValueKind::String, Value::String(n)) => v
                    .as_str()
                    .is_some_and(|s| s.split_ascii_whitespace().any(|w| w == n)),
                _ => false,
            }),
            ClaimOp::Prefix(prefix) => p.any(claims, |v| match v.kind() {
                ValueKind::Array => v.elements().any(|i| starts(i, prefix)),
                _ => starts(v, prefix),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Claims;
    use serde_json::json;

    fn check(path: &str, op: ClaimOp) -> ClaimCheck {
        ClaimCheck {
            path: ClaimPath::parse(path).unwrap(),
            op,
            negate: false,
            description: path.into(),
        }
    }

    fn claims() -> Claims {
        Claims::from_json(&json!({
            "sub": "alice", "n": 42, "f": 2.0, "tenant": "acme-eu",
            "scope": "orders:read orders:write", "scp": ["profile"],
            "realm_access": {"roles": ["admin", "ops"]},
            "groups": [{"name": "a"}, {"name": "b"}],
            "amr": "pwd mfa"
        }))
        .unwrap()
    }

    #[test]
    fn operators_on_strings_numbers_arrays_and_nested_paths() {
        use ClaimOp::*;
        let c = claims();
        let table: Vec<(&str, ClaimOp, bool)> = vec![
            ("sub", Equals(json!("alice")), true),
            ("sub", Equals(json!("bob")), false),
            ("n", Equals(json!(42.0)), true),
            ("f", Equals(json!(2)), true),
            ("n", Equals(json!("42")), false),
            ("sub", OneOf(vec![json!("bob"), json!("alice")]), true),
            ("sub", OneOf(vec![json!("bob")]), false),
            (
                "realm_access.roles",
                OneOf(vec![json!("ops"), json!("x")]),
                true,
            ),
            ("realm_access.roles", OneOf(vec![json!("x")]), false),
            ("realm_access.roles", Contains(json!("admin")), true),
            ("realm_access.roles", Contains(json!("adm")), false),
            ("amr", Contains(json!("mfa")), true),
            ("amr", Contains(json!("mf")), false),
            ("n", Contains(json!(4)), false),
            ("tenant", Prefix("acme-".into()), true),
            ("tenant", Prefix("other".into()), false),
            ("realm_access.roles", Prefix("ad".into()), true),
            ("n", Prefix("4".into()), false),
            ("groups.name", Equals(json!("b")), true),
            ("groups.1.name", Equals(json!("a")), false),
            ("realm_access.roles", Exists(true), true),
            ("realm_access.missing", Exists(true), false),
            ("realm_access.missing", Exists(false), true),
            ("sub", Exists(false), false),
        ];
        for (path, op, expected) in table {
            let desc = format!("{path} {op:?}");
            let params = Params::default();
            assert_eq!(
                check(path, op.clone()).holds(c.root(), &params),
                expected,
                "{desc}"
            );
            let negated = ClaimCheck {
                negate: true,
                ..check(path, op)
            };
            assert_eq!(negated.holds(c.root(), &params), !expected, "not {desc}");
        }
    }

    #[test]
    fn equals_param_compares_with_the_captured_segment() {
        let c = claims();
        let t = crate::policy::Template::parse("/tenants/{tenant}/**").unwrap();
        let at = |path: &'static str| Params {
            path,
            captures: t.matches(path).unwrap(),
        };
        let bound = check("tenant", ClaimOp::EqualsParam(0));
        assert!(bound.holds(c.root(), &at("/tenants/acme-eu/orders")));
        assert!(!bound.holds(c.root(), &at("/tenants/globex/orders")));
        assert!(
            !bound.holds(c.root(), &at("/tenants/ACME-EU/orders")),
            "exact"
        );
        // Nothing captured (a named rule whose template did not match): never equal.
        assert!(!bound.holds(c.root(), &Params::default()));
        // Array claims: any element.
        let roles = check("realm_access.roles", ClaimOp::EqualsParam(0));
        assert!(roles.holds(c.root(), &at("/tenants/ops/x")));
        // Not a string: never equal.
        assert!(!check("n", ClaimOp::EqualsParam(0)).holds(c.root(), &at("/tenants/42/x")));
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let c = claims();
        assert!(has_scope(c.root(), "orders:write"));
        assert!(has_scope(c.root(), "profile"));
        assert!(!has_scope(c.root(), "orders"));
        let scp = Claims::from_json(&json!({"scp": "a b"})).unwrap();
        assert!(has_scope(scp.root(), "b"));
        let r = Requirement {
            scopes: vec!["orders:read".into(), "admin".into(), "x".into()],
            ..Default::default()
        };
        assert_eq!(
            r.check(c.root(), &Params::default()),
            Err(Failure::MissingScopes(vec!["admin", "x"]))
        );
    }

    #[test]
    fn any_of_needs_one_alternative() {
        let admin = Requirement {
            claims: vec![check(
                "realm_access.roles",
                ClaimOp::Contains(json!("admin")),
            )],
            ..Default::default()
        };
        let owner = Requirement {
            claims: vec![check("sub", ClaimOp::Equals(json!("owner")))],
            ..Default::default()
        };
        let r = Requirement {
            any_of: vec![owner.clone(), admin.clone()],
            ..Default::default()
        };
        let c = claims();
        let p = Params::default();
        assert_eq!(r.check(c.root(), &p), Ok(()));
        let r = Requirement {
            any_of: vec![owner.clone(), owner.clone()],
            ..Default::default()
        };
        assert_eq!(r.check(c.root(), &p), Err(Failure::Claim(&owner.claims[0])));
        assert!(Requirement::default().check(c.root(), &p).is_ok());
        assert!(Requirement::default().is_empty());
    }
}
