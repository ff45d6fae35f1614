//! Tests of token extraction: headers, schemes, cookies, query parameters, sizes.

use super::*;
use crate::testing::{check_request, raw_check_request};

#[test]
fn the_word_test_agrees_with_the_byte_table() {
    for b in 0..=255u8 {
        for at in 0..8 {
            let mut word = *b"abcXYZ09";
            word[at] = b;
            assert_eq!(
                word_is_token(u64::from_le_bytes(word)),
                TOKEN_BYTE[usize::from(b)],
                "byte {b:#04x} at {at}"
            );
        }
    }
}

fn bearer() -> Vec<TokenSource> {
    vec![TokenSource::Header {
        name: "authorization".into(),
        prefix: Some("Bearer ".into()),
    }]
}

fn run(
    headers: &[(&str, &str)],
    path: &str,
    sources: &[TokenSource],
) -> Result<Option<Found<'static>>, TokenError> {
    let req = Box::leak(Box::new(check_request("GET", path, "h", headers)));
    extract(&RequestView::new(req), sources, 16384)
}

fn token_of(r: Result<Option<Found<'_>>, TokenError>) -> Result<Option<&str>, &'static str> {
    r.map(|f| f.map(|f| f.token)).map_err(|e| e.detail)
}

#[test]
fn bearer_scheme_is_case_insensitive() {
    for v in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc "] {
        assert_eq!(
            token_of(run(&[("authorization", v)], "/", &bearer())),
            Ok(Some("abc")),
            "{v}"
        );
    }
}

#[test]
fn other_schemes_and_absence_are_no_token() {
    assert_eq!(
        token_of(run(
            &[("authorization", "Basic Zm9vOmJhcg==")],
            "/",
            &bearer()
        )),
        Ok(None)
    );
    assert_eq!(token_of(run(&[], "/", &bearer())), Ok(None));
    assert_eq!(
        token_of(run(&[("authorization", "Bearer")], "/", &bearer())),
        Ok(None)
    );
}

#[test]
fn repeated_or_odd_credentials_are_malformed() {
    let joined = run(
        &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
        "/",
        &bearer(),
    );
    assert_eq!(
        token_of(joined),
        Err("several credentials in one header (repeated header?)")
    );
    assert_eq!(
        token_of(run(&[("authorization", "Bearer  ")], "/", &bearer())),
        Err("credential is empty")
    );
    assert_eq!(
        token_of(run(&[("authorization", "Bearer a b")], "/", &bearer())),
        Err("credential contains whitespace")
    );
    let raw = raw_check_request(&[("authorization", "Bearer a"), ("Authorization", "Bearer b")]);
    let err = extract(&RequestView::new(&raw), &bearer(), 16384).unwrap_err();
    assert_eq!(err.detail, "credential header appears more than once");
}

#[test]
fn only_base64url_and_dots_are_accepted() {
    for bad in ["a+b", "a/b", "a=b", "a%2Eb", "a\u{e9}b", "a\0b"] {
        let auth = format!("Bearer {bad}");
        let err = run(&[("authorization", &auth)], "/", &bearer()).unwrap_err();
        assert_eq!(
            err.detail, "credential contains characters outside base64url",
            "{bad:?}"
        );
    }
    assert_eq!(
        token_of(run(&[("authorization", "Bearer aZ09-_.x")], "/", &bearer())),
        Ok(Some("aZ09-_.x"))
    );
}

#[test]
fn raw_header_map_is_read() {
    let raw = raw_check_request(&[("authorization", "Bearer tok")]);
    let found = extract(&RequestView::new(&raw), &bearer(), 16384)
        .unwrap()
        .unwrap();
    assert_eq!(found.token, "tok");
}

#[test]
fn sources_in_order_first_hit_wins() {
    let sources = vec![
        TokenSource::Header {
            name: "x-token".into(),
            prefix: None,
        },
        TokenSource::Cookie("access_token".into()),
        TokenSource::Query("access_token".into()),
    ];
    let r = run(
        &[("cookie", "a=1; access_token=ck")],
        "/p?access_token=q",
        &sources,
    )
    .unwrap()
    .unwrap();
    assert_eq!((r.token, r.source), ("ck", 1));
    let r = run(
        &[("x-token", "hd"), ("cookie", "access_token=ck")],
        "/",
        &sources,
    )
    .unwrap()
    .unwrap();
    assert_eq!((r.token, r.source), ("hd", 0));
    let r = run(&[], "/p?x=1&access_token=q#frag", &sources)
        .unwrap()
        .unwrap();
    assert_eq!((r.token, r.source), ("q", 2));
}

#[test]
fn cookie_edge_cases() {
    let c = vec![TokenSource::Cookie("t".into())];
    assert_eq!(
        token_of(run(&[("cookie", "t=\"abc\"")], "/", &c)),
        Ok(Some("abc"))
    );
    assert_eq!(
        token_of(run(&[("cookie", "tt=1; xt=2")], "/", &c)),
        Ok(None)
    );
    assert_eq!(
        token_of(run(&[("cookie", "t=1; t=2")], "/", &c)),
        Err("token cookie appears more than once")
    );
    let raw = raw_check_request(&[("cookie", "t=1"), ("cookie", "t=2")]);
    assert!(extract(&RequestView::new(&raw), &c, 16384).is_err());
    let raw = raw_check_request(&[("cookie", "a=1"), ("cookie", "t=2")]);
    assert_eq!(
        extract(&RequestView::new(&raw), &c, 16384)
            .unwrap()
            .unwrap()
            .token,
        "2"
    );
}

#[test]
fn query_edge_cases() {
    let q = vec![TokenSource::Query("t".into())];
    assert_eq!(
        token_of(run(&[], "/p?t=1&t=2", &q)),
        Err("token query parameter appears more than once")
    );
    assert_eq!(token_of(run(&[], "/p?t=", &q)), Err("credential is empty"));
    for path in ["/p?t=a.b.c&x=1;t=x.y.z", "/p?x=1;%74=a", "/p?t=a.b.c;t"] {
        assert_eq!(
            token_of(run(&[], path, &q)),
            Err("token query parameter follows a ';'"),
            "{path}"
        );
    }
    assert_eq!(
        token_of(run(&[], "/p?t=a.b.c&x=1;y=2", &q)),
        Ok(Some("a.b.c"))
    );
    assert_eq!(token_of(run(&[], "/p", &q)), Ok(None));
}

#[test]
fn query_names_are_compared_decoded() {
    let q = vec![TokenSource::Query("at".into())];
    for path in [
        "/p?at=a.b.c&%61t=x.y.z",
        "/p?%61%74=a&at=b",
        "/p?a%74=a&%41t=b&at=c",
    ] {
        assert_eq!(
            token_of(run(&[], path, &q)),
            Err("token query parameter appears more than once"),
            "{path}"
        );
    }
    let found = run(&[], "/p?x=1&%61t=a.b.c", &q).unwrap().unwrap();
    assert_eq!((found.token, found.spelled), ("a.b.c", Some("%61t")));
    // `%41t` is `At`, another name; an invalid escape names nothing.
    assert_eq!(token_of(run(&[], "/p?%41t=a&at%zz=b", &q)), Ok(None));
    assert_eq!(
        token_of(run(&[], "/p?at=a%2Eb", &q)),
        Err("credential contains characters outside base64url")
    );
    let spaced = vec![TokenSource::Query("a t".into())];
    assert_eq!(token_of(run(&[], "/p?a+t=v", &spaced)), Ok(Some("v")));
}

#[test]
fn oversized_headers_are_refused() {
    let big = format!("Bearer {}", "a".repeat(20_000));
    let err = run(&[("authorization", &big)], "/", &bearer()).unwrap_err();
    assert_eq!(err.reason, DenyReason::TokenTooLarge);
}
