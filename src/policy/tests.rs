//! Host matching and the path-head filter.

use super::*;

#[test]
fn hosts_ignore_port_case_and_trailing_dot() {
    for (raw, expected) in [
        ("api.example.com:8443", Some("api.example.com")),
        ("api.example.com.", Some("api.example.com")),
        ("API.Example.com", Some("api.example.com")),
        ("[::1]:8080", Some("[::1]")),
        ("[::1]", Some("[::1]")),
        ("[FD00::1]", Some("[fd00::1]")),
        ("localhost", Some("localhost")),
        ("evil.com@api.example.com", None),
        ("", None),
        ("a b", None),
        ("[::1", None),
    ] {
        assert_eq!(request_host(raw).as_deref(), expected, "{raw:?}");
    }
    let exact = HostPattern::Exact("api.example.com".into());
    assert!(exact.matches(Some("api.example.com")));
    assert!(!exact.matches(Some("xapi.example.com")));
    assert!(!exact.matches(None));
    assert!(HostPattern::Any.matches(None));
    let wild = HostPattern::Suffix(".example.com".into());
    assert!(wild.matches(Some("a.example.com")));
    assert!(wild.matches(Some("a.b.example.com")));
    assert!(!wild.matches(Some("example.com")));
    assert!(!wild.matches(Some(".example.com")));
    assert!(!wild.matches(Some("aexample.com")));
    assert!(!wild.matches(Some("é.example.co")));
    let policy = Policy::new(
        vec![Rule {
            index: 0,
            name: "r".into(),
            matcher: Matcher::new(vec![exact], vec![], PathMatch::Any),
            public: false,
            deny: false,
            require: Requirement::default(),
            mode: Mode::Enforce,
        }],
        DefaultAction::Deny,
        PathOptions::default(),
    );
    let req = crate::request::Synthetic::new("GET", "/", "API.Example.COM:443");
    assert!(
        matches!(policy.select(None, &req.view(), "/").0, Selection::Rule(_)),
        "case-insensitive"
    );
}

#[test]
fn the_path_head_filter_never_changes_the_selection() {
    let literals = [
        "/",
        "/a",
        "/ab",
        "/orders",
        "/orders/",
        "/orders/4",
        "/orders/42",
        "/orders/42/x",
        "/ordersx",
        "/orderz/42",
        "/o",
        "/é",
        "/aaaaaaaa",
        "/aaaaaaab",
    ];
    let rule = |i: usize, path: PathMatch| Rule {
        index: i,
        name: format!("r{i}"),
        matcher: Matcher::new(vec![], vec![], path),
        public: false,
        deny: false,
        require: Requirement::default(),
        mode: Mode::Enforce,
    };
    for (i, lit) in literals.iter().enumerate() {
        for path in literals {
            for m in [
                PathMatch::Exact(lit.to_string()),
                PathMatch::Prefix(lit.to_string()),
            ] {
                let want = m.clone();
                let policy = Policy::new(
                    vec![rule(i, m)],
                    DefaultAction::Deny,
                    PathOptions::default(),
                );
                let req = crate::request::Synthetic::new("GET", path, "h");
                let view = req.view();
                let expected = rule(i, want)
                    .matcher
                    .matches(&view, Some("h"), path, &mut None)
                    .is_some();
                let got = matches!(policy.select(None, &view, path).0, Selection::Rule(_));
                assert_eq!(got, expected, "{lit} vs {path}");
            }
        }
    }
}
