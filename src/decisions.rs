//! Runs a config's decision tests (`tests:`) with the real decision code: each test's request
//! is built as Envoy would send it, and its claims are signed with a key that exists only for
//! the run (one per provider, so issuer binding applies), then decided exactly as a Check is.
//! Claims are taken as verified but still go through the registered-claim checks (`exp`,
//! `aud`, ...); `iat` and `exp` default to now and now + 10 minutes when a test omits them.

use std::sync::Arc;

use crate::authz::{decide, AllowKind, Decision};
use crate::config::{Config, DecisionTest};
use crate::keys::{Algorithm, KeyRing, KeySet, LoadedKey};
use crate::request::Synthetic;

/// The secret of the run's keys (never used outside a test run).
const TEST_SECRET: &[u8] = b"jwt-authz decision tests: no real key";

/// What one test did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// True when the decision was the expected one.
    pub passed: bool,
    /// `allow`/`deny`, with the rule and reason when the test names them.
    pub expected: String,
    /// What the decision was: `allow (rule r, reason ok)`.
    pub actual: String,
}

fn kid(provider: usize) -> String {
    format!("jwt-authz-test-{provider}")
}

/// One HS256 key per provider (at least one), each bound to its provider.
fn ring(config: &Config) -> KeyRing {
    let providers = config.jwt.providers.len().max(1);
    let sets = (0..providers)
        .map(|i| {
            let key = LoadedKey::hmac(&kid(i), Algorithm::HS256, TEST_SECRET, "tests");
            let set = KeySet::new(Arc::from("tests"), vec![key]).expect("one key");
            (i, Arc::new(set))
        })
        .collect();
    KeyRing::from_sets(sets).expect("distinct kids")
}

fn token(config: &Config, claims: &serde_json::Map<String, serde_json::Value>, now: u64) -> String {
    let mut claims = claims.clone();
    claims.entry("iat").or_insert(now.into());
    claims.entry("exp").or_insert((now + 600).into());
    let iss = claims.get("iss").and_then(|v| v.as_str());
    let provider = iss
        .and_then(|i| config.jwt.provider_of(i))
        .or_else(|| config.jwt.implicit())
        .unwrap_or(0);
    // jsonwebtoken, as `jwt-authz token` signs: an encoder independent of our verifier.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid(provider));
    let key = jsonwebtoken::EncodingKey::from_secret(TEST_SECRET).expect("an HMAC secret");
    jsonwebtoken::encode(&header, &claims, &key).expect("claims are a JSON object")
}

fn describe(allow: bool, rule: Option<&str>, reason: Option<&str>) -> String {
    let mut s = String::from(if allow { "allow" } else { "deny" });
    let parts: Vec<String> = [
        rule.map(|r| format!("rule {r}")),
        reason.map(|r| format!("reason {r}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !parts.is_empty() {
        s.push_str(&format!(" ({})", parts.join(", ")));
    }
    s
}

/// Runs one test at `now` against `ring`.
fn run_one(config: &Config, ring: &KeyRing, test: &DecisionTest, now: u64) -> TestOutcome {
    let r = &test.request;
    let mut req = Synthetic::new(&r.method, &r.path, &r.host);
    for (k, v) in &r.headers {
        req.header(k, v);
    }
    req.principal = r.peer.clone().unwrap_or_default();
    req.source_address = r.source_ip.clone().unwrap_or_default();
    req.context_extensions = r.context_extensions.clone();
    if let Some(claims) = &test.claims {
        req.token(&config.jwt.sources, &token(config, claims, now));
    }
    let view = req.view();
    let e = &test.expect;
    let expected = describe(e.allow, e.rule.as_deref(), e.reason.as_deref());
    let (allow, rule, reason) = match decide(&view, config, ring, now) {
        Err(_) => {
            return TestOutcome {
                name: test.name.clone(),
                passed: false,
                expected,
                actual: "unavailable".into(),
            }
        }
        Ok(Decision::Allow(a)) => {
            let reason = match a.kind {
                AllowKind::Token => "ok",
                AllowKind::Public => "public",
                AllowKind::Shadow(_) => "shadow",
            };
            (true, a.rule.map(|r| r.name.clone()), reason.to_string())
        }
        Ok(Decision::Deny(d)) => (false, d.rule.map(|r| r.name.clone()), d.reason.to_string()),
    };
    let passed = allow == e.allow
        && e.rule
            .as_ref()
            .is_none_or(|want| rule.as_ref() == Some(want))
        && e.reason.as_ref().is_none_or(|want| *want == reason);
    TestOutcome {
        name: test.name.clone(),
        passed,
        expected,
        actual: describe(
            allow,
            Some(rule.as_deref().unwrap_or("(none)")),
            Some(&reason),
        ),
    }
}

/// Runs every test of `config` at `now` (Unix seconds).
pub fn run(config: &Config, now: u64) -> Vec<TestOutcome> {
    if config.tests.is_empty() {
        return Vec::new();
    }
    let ring = ring(config);
    config
        .tests
        .iter()
        .map(|t| run_one(config, &ring, t, now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn config(yaml: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_yaml(yaml, std::path::Path::new("/c.yaml"))
    }

    const POLICY: &str = r#"
keys: [{ dir: /k, algorithm: HS256 }]
jwt: { audiences: [api], sources: [{ cookie: session }] }
rules:
  - name: tenant
    match: { path_template: "/t/{tenant}/**", hosts: [api.example.com], methods: [PUT] }
    require: { claims: [{ claim: tenant_id, equals_param: tenant }] }
  - name: internal
    match: { path_prefix: /internal, peers: ["spiffe://c/ns/a/*"], source_ips: ["10.0.0.0/8"],
             headers: [{ name: x-v, equals: "2" }] }
  - name: named
    match: { path: /never }
  - name: pub
    match: { path_prefix: /pub }
    public: true
default: deny
"#;

    fn outcomes(tests: &str) -> Vec<TestOutcome> {
        let c = Config::from_yaml_untested(
            &format!("{POLICY}tests:\n{tests}"),
            std::path::Path::new("/c.yaml"),
        )
        .unwrap();
        run(&c, NOW)
    }

    #[test]
    fn every_request_field_reaches_the_decision() {
        let o = outcomes(
            r#"
  - name: template, host, method
    request: { method: put, path: /t/acme/x, host: api.example.com }
    claims: { tenant_id: acme, aud: api }
    expect: { decision: allow, rule: tenant, reason: ok }
  - name: another host
    request: { method: PUT, path: /t/acme/x, host: other }
    claims: { tenant_id: acme, aud: api }
    expect: { decision: deny, reason: no_matching_rule }
  - name: peer, source ip and header
    request: { path: /internal/x, peer: "spiffe://c/ns/a/sa/b", source_ip: 10.1.1.1, headers: { X-V: "2" } }
    claims: { aud: api }
    expect: { decision: allow, rule: internal }
  - name: without the header
    request: { path: /internal/x, peer: "spiffe://c/ns/a/sa/b", source_ip: 10.1.1.1 }
    claims: { aud: api }
    expect: { decision: deny, reason: no_matching_rule }
  - name: context extensions name the rule
    request: { path: /anything, context_extensions: { jwt-authz-rule: named } }
    claims: { aud: api }
    expect: { decision: allow, rule: named }
  - name: no token
    request: { path: /t/acme/x }
    claims: null
    expect: { decision: deny, reason: missing_token }
  - name: registered claims apply
    request: { method: PUT, path: /t/acme/x, host: api.example.com }
    claims: { tenant_id: acme, aud: other }
    expect: { decision: deny, reason: bad_audience }
  - name: public
    request: { path: /pub/x }
    expect: { decision: allow, reason: public }
"#,
        );
        for t in &o {
            assert!(t.passed, "{t:?}");
        }
        assert_eq!(o.len(), 8);
    }

    #[test]
    fn a_wrong_expectation_fails_with_what_it_got() {
        let o = outcomes(
            r#"
  - name: wrong decision
    request: { path: /pub/x }
    expect: { decision: deny }
  - name: wrong rule
    request: { path: /internal/x }
    claims: { aud: api }
    expect: { decision: deny, rule: internal }
  - name: wrong reason
    request: { path: /other }
    claims: { aud: api }
    expect: { decision: deny, reason: claim_mismatch }
"#,
        );
        assert!(o.iter().all(|t| !t.passed), "{o:?}");
        assert_eq!(o[0].expected, "deny");
        assert_eq!(o[0].actual, "allow (rule pub, reason public)");
        assert_eq!(o[1].actual, "deny (rule (none), reason no_matching_rule)");
        assert_eq!(o[2].expected, "deny (reason claim_mismatch)");
        // Loading refuses the config and names each failing test.
        let e = config(&format!("{POLICY}tests:\n  - {{ name: wrong, request: {{ path: /pub }}, expect: {{ decision: deny }} }}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tests: 1 of 1 failed") && e.contains("\"wrong\" expected deny, got allow"),
            "{e}"
        );
    }

    #[test]
    fn expectations_must_name_rules_and_reasons_that_exist() {
        for (test, message) in [
            (
                "{ name: a, request: { path: / }, expect: { decision: allow, rule: nope } }",
                "tests[0].expect.rule: test \"a\" expects rule \"nope\", which does not exist",
            ),
            (
                "{ name: a, request: { path: / }, expect: { decision: deny, reason: ok } }",
                "tests[0].expect.reason: \"ok\" is not a reason of a deny",
            ),
            (
                "{ name: a, request: { path: / }, expect: { decision: allow, reason: expired } }",
                "tests[0].expect.reason: \"expired\" is not a reason of an allow",
            ),
            (
                "{ name: a, request: { path: / }, expect: { decision: maybe } }",
                "tests[0].expect.decision: \"maybe\": use allow or deny",
            ),
            (
                "{ name: a, request: { path: x }, expect: { decision: deny } }",
                "tests[0].request.path: must start with /",
            ),
            (
                "{ name: a, request: { path: / }, claims: [1], expect: { decision: deny } }",
                "tests[0].claims: the token's claims as a mapping",
            ),
        ] {
            let e = config(&format!("{POLICY}tests:\n  - {test}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(message), "{test}: {e}");
        }
        let twice = "  - { name: a, request: { path: /pub }, expect: { decision: allow } }\n";
        let e = config(&format!("{POLICY}tests:\n{twice}{twice}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tests[1].name: \"a\" is used twice"), "{e}");
    }

    #[test]
    fn providers_bind_test_tokens_to_their_issuer() {
        let c = config(
            "providers: [{ name: corp, issuer: https://corp, jwks_uri: https://corp/k }]\nrules: [{ name: all, match: {} }]\ntests:\n  - { name: corp, request: { path: / }, claims: { iss: https://corp }, expect: { decision: allow } }\n  - { name: stranger, request: { path: / }, claims: { iss: https://x }, expect: { decision: deny, reason: bad_issuer } }\n",
        );
        assert!(c.is_ok(), "{:?}", c.err());
    }
}
