//! Authorization from claims: rules select by host, method, path (or by name through Envoy's
//! `context_extensions`), and each rule says whether a token is needed and what it must carry.
//! Pure: no I/O, no locks.

mod claim_path;
mod path;
mod require;

use std::borrow::Cow;
use std::collections::HashMap;

use regex::Regex;

pub use claim_path::{ClaimPath, Omission, Rendered};
pub(crate) use path::has_segment_prefix;
pub use path::{normalize, Parameters, PathOptions};
pub use require::{has_scope, ClaimCheck, ClaimOp, Failure, Requirement};

/// The `context_extensions` key that selects a rule by name.
pub const RULE_EXTENSION: &str = "jwt-authz-rule";

/// A host pattern of `match.hosts`.
#[derive(Clone, Debug)]
pub enum HostPattern {
    /// Exactly this host (lower case, no port).
    Exact(String),
    /// `*.example.com`: any host ending in `.example.com` (stored with the leading dot).
    Suffix(String),
    /// `*`: any host.
    Any,
}

/// How a rule matches the path.
#[derive(Clone, Debug)]
pub enum PathMatch {
    /// Any path.
    Any,
    /// Exactly this normalized path.
    Exact(String),
    /// This prefix, on a segment boundary.
    Prefix(String),
    /// This regex, matched against the whole normalized path.
    Regex(Regex),
}

/// `rules[].match`.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Hosts; empty matches any.
    pub hosts: Vec<HostPattern>,
    /// Methods (upper case); empty matches any.
    pub methods: Vec<String>,
    /// Path condition.
    pub path: PathMatch,
}

/// Whether a rule's decision is enforced or only observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The decision is applied.
    Enforce,
    /// The decision is computed, logged and counted, but the request is allowed.
    Shadow,
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Position in the policy (set by [`Policy::new`]; indexes per-rule tables such as metric
    /// handles).
    pub index: usize,
    /// Unique name (metrics label, `context_extensions` key, logs).
    pub name: String,
    /// When the rule applies.
    pub matcher: Matcher,
    /// No token needed.
    pub public: bool,
    /// What the token must carry.
    pub require: Requirement,
    /// Enforce or shadow.
    pub mode: Mode,
}

/// What happens when rules exist and none matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// 403 `no_matching_rule`.
    Deny,
    /// Any valid token passes.
    Allow,
}

/// All rules, in order, and the default.
#[derive(Clone, Debug)]
pub struct Policy {
    /// First match wins.
    pub rules: Vec<Rule>,
    /// Applies when rules exist and none matches.
    pub default: DefaultAction,
    /// How request paths are normalized before matching.
    pub paths: PathOptions,
    by_name: HashMap<String, usize>,
    /// Per rule, the first bytes its path must start with: a quick filter (one AND and one
    /// compare) that skips most non-matching rules without a string comparison.
    heads: Vec<PathHead>,
}

/// Up to the first eight bytes of a path, with a mask of the bytes a rule fixes.
#[derive(Clone, Copy, Debug, Default)]
struct PathHead {
    word: u64,
    mask: u64,
}

impl PathHead {
    /// The first eight bytes of `path` (zero-padded), all significant.
    fn of(path: &str) -> u64 {
        let mut word = [0u8; 8];
        let n = path.len().min(8);
        word[..n].copy_from_slice(&path.as_bytes()[..n]);
        u64::from_le_bytes(word)
    }

    /// What a rule fixes: its literal path or prefix's first bytes; nothing for any path or a
    /// regex.
    fn of_rule(m: &PathMatch) -> Self {
        let (PathMatch::Exact(p) | PathMatch::Prefix(p)) = m else {
            return Self::default();
        };
        let n = p.len().min(8);
        let mask = if n == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * n)) - 1
        };
        Self {
            word: Self::of(p) & mask,
            mask,
        }
    }
}

/// The outcome of rule selection.
#[derive(Clone, Copy, Debug)]
pub enum Selection<'a> {
    /// This rule applies.
    Rule(&'a Rule),
    /// No rules are configured: any valid token passes.
    NoRules,
    /// Rules exist but none matches.
    NoMatch,
    /// `context_extensions` named a rule that does not exist.
    UnknownName,
}

impl Policy {
    /// Builds a policy; names must already be unique (config validation checks).
    pub fn new(mut rules: Vec<Rule>, default: DefaultAction, paths: PathOptions) -> Self {
        for (i, r) in rules.iter_mut().enumerate() {
            r.index = i;
        }
        let by_name = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), i))
            .collect();
        let heads = rules
            .iter()
            .map(|r| PathHead::of_rule(&r.matcher.path))
            .collect();
        Self {
            rules,
            default,
            paths,
            by_name,
            heads,
        }
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.by_name.get(name).map(|&i| &self.rules[i])
    }

    /// Picks the rule for a request. `named` is the `context_extensions` selection; `path` is
    /// already normalized.
    pub fn select(
        &self,
        named: Option<&str>,
        method: &str,
        host: &str,
        path: &str,
    ) -> Selection<'_> {
        if let Some(name) = named {
            return self
                .rule(name)
                .map_or(Selection::UnknownName, Selection::Rule);
        }
        if self.rules.is_empty() {
            return Selection::NoRules;
        }
        let host = request_host(host);
        let host = host.as_deref();
        let head = PathHead::of(path);
        self.rules
            .iter()
            .zip(&self.heads)
            .find(|(r, h)| head & h.mask == h.word && r.matcher.matches(method, host, path))
            .map_or(Selection::NoMatch, |(r, _)| Selection::Rule(r))
    }
}

/// The host of a request's `:authority` as host patterns compare it: parsed by
/// `http::uri::Authority`, without the port and a trailing dot, lower-cased, IPv6 literals in
/// brackets (`[::1]`). `None` when it is not a plain `host[:port]` (empty, invalid, or with
/// userinfo, which a host pattern must never be matched against): then only rules without
/// hosts, or with `*`, match.
pub fn request_host(authority: &str) -> Option<Cow<'_, str>> {
    let parsed = http::uri::Authority::try_from(authority).ok()?;
    if parsed.as_str().contains('@') {
        return None;
    }
    // `host()` is a prefix of the authority: borrow it from the request.
    let host = &authority[..parsed.host().len()];
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Some(Cow::Owned(host.to_ascii_lowercase()))
    } else {
        Some(Cow::Borrowed(host))
    }
}

impl Matcher {
    /// True when the request matches every condition. `host` is [`request_host`]'s; the
    /// cheapest and most selective test (the path) runs first.
    pub fn matches(&self, method: &str, host: Option<&str>, path: &str) -> bool {
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(p) => path == p,
            PathMatch::Prefix(p) => has_segment_prefix(path, p),
            PathMatch::Regex(re) => re.is_match(path),
        };
        path_ok
            && (self.methods.is_empty() || self.methods.iter().any(|m| m == method))
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(host)))
    }
}

impl HostPattern {
    /// True when `host` ([`request_host`]'s) matches.
    pub fn matches(&self, host: Option<&str>) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (_, None) => false,
            (HostPattern::Exact(h), Some(host)) => host == h,
            (HostPattern::Suffix(s), Some(host)) => {
                host.len() > s.len() && host.ends_with(s.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
                matcher: Matcher {
                    hosts: vec![exact],
                    methods: vec![],
                    path: PathMatch::Any,
                },
                public: false,
                require: Requirement::default(),
                mode: Mode::Enforce,
            }],
            DefaultAction::Deny,
            PathOptions::default(),
        );
        assert!(
            matches!(
                policy.select(None, "GET", "API.Example.COM:443", "/"),
                Selection::Rule(_)
            ),
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
            matcher: Matcher {
                hosts: vec![],
                methods: vec![],
                path,
            },
            public: false,
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
                    let expected = rule(i, want).matcher.matches("GET", Some("h"), path);
                    let got = matches!(policy.select(None, "GET", "h", path), Selection::Rule(_));
                    assert_eq!(got, expected, "{lit} vs {path}");
                }
            }
        }
    }
}
