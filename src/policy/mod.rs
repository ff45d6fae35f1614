//! Authorization from claims: rules select by host, method, path (or by name through Envoy's
//! `context_extensions`), and each rule says whether a token is needed and what it must carry.
//! Pure: no I/O, no locks.

mod claim_path;
mod conditions;
mod path;
mod require;
mod template;

use std::borrow::Cow;
use std::collections::HashMap;

use regex::Regex;

pub use claim_path::{ClaimPath, Omission, Rendered};
pub use conditions::{source_ip, Cidr, HeaderCondition, HeaderOp, PeerPattern};
pub(crate) use path::has_segment_prefix;
pub use path::{normalize, Parameters, PathOptions};
pub use require::{has_scope, ClaimCheck, ClaimOp, Failure, Params, Requirement};
pub use template::{Captures, Template, MAX_PARAMS};

use crate::request::RequestView;

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
    /// This template (`/tenants/{tenant}/orders/**`), capturing segments.
    Template(Template),
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
    /// Request header conditions; all must hold.
    pub headers: Vec<HeaderCondition>,
    /// mTLS peers (`source.principal`); empty matches any (and no peer).
    pub peers: Vec<PeerPattern>,
    /// Peer addresses (`source.address`); empty matches any.
    pub source_ips: Vec<Cidr>,
}

impl Matcher {
    /// A matcher of host, method and path only.
    pub fn new(hosts: Vec<HostPattern>, methods: Vec<String>, path: PathMatch) -> Self {
        Self {
            hosts,
            methods,
            path,
            headers: Vec::new(),
            peers: Vec::new(),
            source_ips: Vec::new(),
        }
    }
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
    /// Always 403 `denied_by_rule` (the token is not looked at).
    pub deny: bool,
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
    /// `cors_preflight: allow`: CORS preflights pass without a token.
    pub cors_preflight: bool,
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
        let p = match m {
            PathMatch::Exact(p) | PathMatch::Prefix(p) => p,
            PathMatch::Template(t) => &t.literal_prefix,
            PathMatch::Any | PathMatch::Regex(_) => return Self::default(),
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
            cors_preflight: false,
            by_name,
            heads,
        }
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.by_name.get(name).map(|&i| &self.rules[i])
    }

    /// Picks the rule for a request, with the segments its path template captured. `named`
    /// is the `context_extensions` selection (its template, if any, still captures); `path` is
    /// the request's path, normalized.
    pub fn select(
        &self,
        named: Option<&str>,
        view: &RequestView<'_>,
        path: &str,
    ) -> (Selection<'_>, Captures) {
        if let Some(name) = named {
            return match self.rule(name) {
                None => (Selection::UnknownName, Captures::default()),
                Some(r) => {
                    let captures = match &r.matcher.path {
                        PathMatch::Template(t) => t.matches(path).unwrap_or_default(),
                        _ => Captures::default(),
                    };
                    (Selection::Rule(r), captures)
                }
            };
        }
        if self.rules.is_empty() {
            return (Selection::NoRules, Captures::default());
        }
        let host = request_host(view.host);
        let host = host.as_deref();
        let head = PathHead::of(path);
        let mut source_ip = None;
        for (r, h) in self.rules.iter().zip(&self.heads) {
            if head & h.mask != h.word {
                continue;
            }
            if let Some(captures) = r.matcher.matches(view, host, path, &mut source_ip) {
                return (Selection::Rule(r), captures);
            }
        }
        (Selection::NoMatch, Captures::default())
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
    /// The template's captures when the request matches every condition (empty captures for
    /// other path conditions). `host` is [`request_host`]'s; `source_ip` caches the parsed
    /// peer address across the rules of one selection. The path, usually the most selective,
    /// runs first, the header conditions (a scan of the request's headers each) last.
    pub fn matches(
        &self,
        view: &RequestView<'_>,
        host: Option<&str>,
        path: &str,
        source_ip: &mut Option<Option<std::net::IpAddr>>,
    ) -> Option<Captures> {
        let captures = match &self.path {
            PathMatch::Any => Captures::default(),
            PathMatch::Exact(p) => (path == p).then(Captures::default)?,
            PathMatch::Prefix(p) => has_segment_prefix(path, p).then(Captures::default)?,
            PathMatch::Regex(re) => re.is_match(path).then(Captures::default)?,
            PathMatch::Template(t) => t.matches(path)?,
        };
        let ok = (self.methods.is_empty() || self.methods.iter().any(|m| m == view.method))
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(host)))
            && self.headers.iter().all(|h| h.matches(view))
            && (self.peers.is_empty() || self.peers.iter().any(|p| p.matches(view.principal)))
            && (self.source_ips.is_empty() || {
                let ip =
                    *source_ip.get_or_insert_with(|| conditions::source_ip(view.source_address));
                ip.is_some_and(|ip| self.source_ips.iter().any(|c| c.contains(ip)))
            });
        ok.then_some(captures)
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
mod tests;
