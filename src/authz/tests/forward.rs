//! What an allow sends upstream: identity headers overwritten or removed, shadow allows,
//! metadata, and credential stripping.

use serde_json::json;

use super::*;

#[test]
fn shadow_rules_allow_but_report_what_they_would_deny() {
    let cfg = config(POLICY);
    let (label, resp) = run(
        &cfg,
        &request(
            "GET",
            "/beta",
            "h",
            Some(&token(json!({"plan": "free"}))),
            &[],
        ),
    );
    assert_eq!(label, "allow:shadow:claim_mismatch");
    assert_eq!(
        set(&ok_of(&resp).headers)[0],
        ("x-jwt-sub", "alice"),
        "a shadow allow still forwards the identity"
    );
    let (label, resp) = run(
        &cfg,
        &request("GET", "/beta", "h", None, &[("x-jwt-sub", "mallory")]),
    );
    assert_eq!(label, "allow:shadow:missing_token");
    assert!(ok_of(&resp)
        .headers_to_remove
        .contains(&"x-jwt-sub".to_string()));
    assert_eq!(
        run(
            &cfg,
            &request(
                "GET",
                "/beta",
                "h",
                Some(&token(json!({"plan": "gold"}))),
                &[]
            )
        )
        .0,
        "allow:ok"
    );
}

#[test]
fn identity_headers_are_overwritten_or_removed_never_passed_through() {
    let cfg = config(POLICY);
    let spoof = [
        ("x-jwt-sub", "mallory"),
        ("x-jwt-roles", "admin"),
        ("x-jwt-payload", "e30"),
    ];
    // Token with sub but no roles: sub overwritten, roles removed, payload overwritten.
    let t = token(json!({"scope": "x"}));
    let (_, resp) = run(&cfg, &request("GET", "/reports", "h", Some(&t), &spoof));
    let ok = ok_of(&resp);
    let headers = set(&ok.headers);
    assert_eq!(headers[0], ("x-jwt-sub", "alice"));
    assert_eq!(headers[1], ("x-jwt-payload", t.split('.').nth(1).unwrap()));
    assert!(
        ok.headers.iter().all(|h| h.append_action == 2),
        "OVERWRITE_IF_EXISTS_OR_ADD"
    );
    assert_eq!(ok.headers_to_remove, ["x-jwt-roles"]);
    // Public route: no token, so every identity header is removed.
    let (_, resp) = run(&cfg, &request("GET", "/healthz", "h", None, &spoof));
    let ok = ok_of(&resp);
    assert!(ok.headers.is_empty());
    assert_eq!(
        ok.headers_to_remove,
        ["x-jwt-sub", "x-jwt-roles", "x-jwt-payload"]
    );
    // Arrays are joined; unsafe values are treated as absent.
    let t = token(json!({"realm_access": {"roles": ["a", "b"]}, "sub": "evil\r\nx-admin: 1"}));
    let (_, resp) = run(&cfg, &request("GET", "/reports", "h", Some(&t), &spoof));
    let ok = ok_of(&resp);
    assert!(set(&ok.headers).contains(&("x-jwt-roles", "a,b")));
    assert!(ok.headers_to_remove.contains(&"x-jwt-sub".to_string()));
}

#[test]
fn metadata_carries_identity_rule_and_extra_claims() {
    let cfg = config(POLICY);
    let t = token(json!({"iss": "https://idp", "tenant": "acme", "scope": "x"}));
    let (_, resp) = run(&cfg, &request("GET", "/reports", "h", Some(&t), &[]));
    let md = resp.dynamic_metadata.unwrap();
    let s = |k: &str| match md.fields.get(k).and_then(|v| v.kind.clone()) {
        Some(envoy_types::pb::google::protobuf::value::Kind::StringValue(s)) => s,
        other => panic!("{k}: {other:?}"),
    };
    for (k, v) in [
        ("sub", "alice"),
        ("iss", "https://idp"),
        ("kid", "k1"),
        ("rule", "reports"),
        ("decision", "allow"),
        ("reason", "ok"),
        ("tenant", "acme"),
    ] {
        assert_eq!(s(k), v);
    }
}

#[test]
fn strip_token_removes_the_credential_where_it_was_found() {
    let strip = |sources: &str| {
        config(&format!(
            "keys: [{{ dir: /k, algorithm: HS256 }}]\njwt:\n  sources: {sources}\nforward:\n  strip_token: true\n"
        ))
    };
    let t = token(json!({}));
    let cfg = strip("[{ header: authorization, prefix: 'Bearer ' }]");
    let (_, resp) = run(&cfg, &request("GET", "/", "h", Some(&t), &[]));
    assert_eq!(ok_of(&resp).headers_to_remove, ["authorization"]);

    // A public route ignores the token but still strips it.
    let public = config(
        "keys: [{ dir: /k, algorithm: HS256 }]\nrules: [{ name: p, match: {}, public: true }]\nforward:\n  strip_token: true\n",
    );
    let (label, resp) = run(&public, &request("GET", "/", "h", Some(&t), &[]));
    assert_eq!(label, "allow:public");
    assert_eq!(ok_of(&resp).headers_to_remove, ["authorization"]);

    let cfg = strip("[{ cookie: at }]");
    let cookie = format!("a=1; at={t}; b=2");
    let (_, resp) = run(
        &cfg,
        &request("GET", "/", "h", None, &[("cookie", &cookie)]),
    );
    assert_eq!(set(&ok_of(&resp).headers), [("cookie", "a=1; b=2")]);
    let only = format!("at={t}");
    let (_, resp) = run(&cfg, &request("GET", "/", "h", None, &[("cookie", &only)]));
    assert_eq!(ok_of(&resp).headers_to_remove, ["cookie"]);

    let cfg = strip("[{ query: at }]");
    let (_, resp) = run(
        &cfg,
        &request("GET", &format!("/p?at={t}&x=1"), "h", None, &[]),
    );
    assert_eq!(ok_of(&resp).query_parameters_to_remove, ["at"]);
}
