//! What a rule requires of the verified claims: scopes (all of), claim checks (all of), and
//! `any_of` alternatives (at least one). Evaluation allocates only when it fails.

use serde_json::Value;

use super::ClaimPath;

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
}

/// One claim requirement, with its description for logs and `explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimCheck {
    /// Where the claim is.
    pub path: ClaimPath,
    /// What must hold.
    pub op: ClaimOp,
    /// e.g. `realm_access.roles contains "admin"`.
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
    pub fn check<'a>(&'a self, claims: &Value) -> Result<(), Failure<'a>> {
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .filter(|s| !has_scope(claims, s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Failure::MissingScopes(missing));
        }
        if let Some(failed) = self.claims.iter().find(|c| !c.holds(claims)) {
            return Err(Failure::Claim(failed));
        }
        let mut first_failure = None;
        for alt in &self.any_of {
            match alt.check(claims) {
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
pub fn has_scope(claims: &Value, wanted: &str) -> bool {
    let in_words = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.split_ascii_whitespace().any(|w| w == wanted))
    };
    claims.get("scope").is_some_and(in_words)
        || match claims.get("scp") {
            Some(Value::Array(items)) => items.iter().any(|i| i == wanted),
            Some(v) => in_words(v),
            None => false,
        }
}

/// JSON equality with numbers compared by value.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

impl ClaimCheck {
    /// True when the check holds for `claims`.
    pub fn holds(&self, claims: &Value) -> bool {
        let p = &self.path;
        match &self.op {
            ClaimOp::Exists(want) => p.any(claims, |_| true) == *want,
            ClaimOp::Equals(expected) => p.any(claims, |v| json_eq(v, expected)),
            ClaimOp::OneOf(options) => p.any(claims, |v| {
                let is_option = |x: &Value| options.iter().any(|o| json_eq(x, o));
                match v {
                    Value::Array(items) => items.iter().any(is_option),
                    single => is_option(single),
                }
            }),
            ClaimOp::Contains(needle) => p.any(claims, |v| match (v, needle) {
                (Value::Array(items), n) => items.iter().any(|i| json_eq(i, n)),
                (Value::String(s), Value::String(n)) => s.split_ascii_whitespace().any(|w| w == n),
                _ => false,
            }),
            ClaimOp::Prefix(prefix) => p.any(claims, |v| match v {
                Value::String(s) => s.starts_with(prefix.as_str()),
                Value::Array(items) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|s| s.starts_with(prefix.as_str()))),
                _ => false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(path: &str, op: ClaimOp) -> ClaimCheck {
        ClaimCheck {
            path: ClaimPath::parse(path).unwrap(),
            op,
            description: path.into(),
        }
    }

    fn claims() -> Value {
        json!({
            "sub": "alice", "n": 42, "f": 2.0, "tenant": "acme-eu",
            "scope": "orders:read orders:write", "scp": ["profile"],
            "realm_access": {"roles": ["admin", "ops"]},
            "groups": [{"name": "a"}, {"name": "b"}],
            "amr": "pwd mfa"
        })
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
            assert_eq!(check(path, op).holds(&c), expected, "{desc}");
        }
    }

    #[test]
    fn scopes_from_scope_and_scp() {
        let c = claims();
        assert!(has_scope(&c, "orders:write"));
        assert!(has_scope(&c, "profile"));
        assert!(!has_scope(&c, "orders"));
        assert!(has_scope(&json!({"scp": "a b"}), "b"));
        let r = Requirement {
            scopes: vec!["orders:read".into(), "admin".into(), "x".into()],
            ..Default::default()
        };
        assert_eq!(r.check(&c), Err(Failure::MissingScopes(vec!["admin", "x"])));
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
        assert_eq!(r.check(&claims()), Ok(()));
        let r = Requirement {
            any_of: vec![owner.clone(), owner.clone()],
            ..Default::default()
        };
        assert_eq!(r.check(&claims()), Err(Failure::Claim(&owner.claims[0])));
        assert!(Requirement::default().check(&claims()).is_ok());
        assert!(Requirement::default().is_empty());
    }
}
