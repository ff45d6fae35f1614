//! Claims: a strict JSON object, registered claims of their RFC 7519 types, time claims
//! with the leeway, lifetime, issuer and audience.

use super::*;

#[test]
fn claims_must_be_a_strict_object() {
    let h = r#"{"alg":"HS256","kid":"k256"}"#;
    for (payload, detail) in [
        (
            r#"{"sub":"a","sub":"admin","exp":1900000000}"#,
            "duplicate member in claims",
        ),
        ("[1]", "claims are not a JSON object"),
        ("not json", "claims are not a JSON object"),
        (
            r#"{"exp":"tomorrow"}"#,
            "exp is not a NumericDate (a number from 0 to 2^53)",
        ),
        (
            r#"{"exp":1900000000,"nbf":true}"#,
            "nbf is not a NumericDate (a number from 0 to 2^53)",
        ),
        (
            r#"{"exp":1900000000,"a":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}"#,
            "claims are nested deeper than limits.max_claims_depth",
        ),
    ] {
        let t = sign_compact(Algorithm::HS256, K256, h, payload);
        assert_eq!(
            check(&t, &settings()),
            Err((DenyReason::Malformed, detail)),
            "{payload}"
        );
    }
}

#[test]
fn registered_claims_of_the_wrong_type_are_malformed_even_when_unchecked() {
    let h = r#"{"alg":"HS256","kid":"k256"}"#;
    let exp = NOW + 600;
    for (extra, detail) in [
        (r#""iss":true"#, "iss is not a string"),
        (r#""iss":null"#, "iss is not a string"),
        (r#""sub":123"#, "sub is not a string"),
        (r#""jti":1"#, "jti is not a string"),
        (
            r#""aud":123"#,
            "aud is neither a string nor an array of strings",
        ),
        (
            r#""aud":[1,2]"#,
            "aud is neither a string nor an array of strings",
        ),
        (
            r#""aud":["a",null]"#,
            "aud is neither a string nor an array of strings",
        ),
        (
            r#""iat":-1"#,
            "iat is not a NumericDate (a number from 0 to 2^53)",
        ),
        (
            r#""nbf":-0.5"#,
            "nbf is not a NumericDate (a number from 0 to 2^53)",
        ),
        (
            r#""nbf":"1""#,
            "nbf is not a NumericDate (a number from 0 to 2^53)",
        ),
        (
            r#""iat":9007199254740993"#,
            "iat is not a NumericDate (a number from 0 to 2^53)",
        ),
    ] {
        let payload = format!(r#"{{"exp":{exp},{extra}}}"#);
        let t = sign_compact(Algorithm::HS256, K256, h, &payload);
        assert_eq!(
            check(&t, &settings()),
            Err((DenyReason::Malformed, detail)),
            "{payload}"
        );
    }
    let t = sign_compact(Algorithm::HS256, K256, h, r#"{"exp":2e206}"#);
    assert_eq!(
        check(&t, &settings()),
        Err((
            DenyReason::Malformed,
            "exp is not a NumericDate (a number from 0 to 2^53)"
        ))
    );
    // The right types pass: fractional dates, an empty audience list, 2^53 itself.
    for extra in [
        r#""iat":1.5"#,
        r#""aud":[]"#,
        r#""aud":"x""#,
        r#""sub":"","jti":"j""#,
        r#""nbf":0"#,
    ] {
        let payload = format!(r#"{{"exp":{exp},{extra}}}"#);
        let t = sign_compact(Algorithm::HS256, K256, h, &payload);
        assert!(check(&t, &settings()).is_ok(), "{payload}");
    }
    let t = sign_compact(Algorithm::HS256, K256, h, r#"{"exp":9007199254740992}"#);
    assert!(check(&t, &settings()).is_ok(), "exp = 2^53");
}

#[test]
fn time_claims_honour_the_leeway() {
    let s = settings();
    let at = |claims| mint(Some("k256"), Algorithm::HS256, K256, claims);
    assert!(check(&at(json!({"exp": NOW - 59})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"exp": NOW - 60})), &s),
        DenyReason::Expired
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW - 3600})), &s),
        DenyReason::Expired
    );
    assert!(check(&at(json!({"exp": NOW + 600, "nbf": NOW + 60})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"exp": NOW + 600, "nbf": NOW + 61})), &s),
        DenyReason::NotYetValid
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 600, "iat": NOW + 120})), &s),
        DenyReason::NotYetValid
    );
    assert!(check(&at(json!({"exp": (NOW + 10) as f64 + 0.5})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"sub": "x"})), &s),
        DenyReason::MissingClaim
    );
    let lax = JwtSettings {
        require_exp: false,
        ..settings()
    };
    assert!(check(&at(json!({"sub": "x"})), &lax).is_ok());
}

#[test]
fn lifetime_issuer_and_audience() {
    let at = |claims| mint(Some("k256"), Algorithm::HS256, K256, claims);
    let s = JwtSettings {
        max_lifetime_secs: Some(3600),
        ..settings()
    };
    assert!(check(&at(json!({"iat": NOW, "exp": NOW + 3600})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"iat": NOW, "exp": NOW + 3601})), &s),
        DenyReason::LifetimeTooLong
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60})), &s),
        DenyReason::MissingClaim
    );

    let s = JwtSettings {
        issuers: vec!["https://idp".into()],
        ..settings()
    };
    assert!(check(&at(json!({"exp": NOW + 60, "iss": "https://idp"})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60, "iss": "https://evil"})), &s),
        DenyReason::BadIssuer
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60, "iss": ["https://idp"]})), &s),
        DenyReason::Malformed
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60})), &s),
        DenyReason::MissingClaim
    );

    let s = JwtSettings {
        audiences: vec!["orders".into(), "billing".into()],
        ..settings()
    };
    assert!(check(&at(json!({"exp": NOW + 60, "aud": "billing"})), &s).is_ok());
    assert!(check(&at(json!({"exp": NOW + 60, "aud": ["x", "orders"]})), &s).is_ok());
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60, "aud": ["x", "y"]})), &s),
        DenyReason::BadAudience
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60, "aud": "x"})), &s),
        DenyReason::BadAudience
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60, "aud": 5})), &s),
        DenyReason::Malformed
    );
    assert_eq!(
        reason(&at(json!({"exp": NOW + 60})), &s),
        DenyReason::MissingClaim
    );
}
