//! The request conditions of `match` besides host, method and path: request headers, the
//! mTLS peer (`attributes.source.principal`) and the peer's address
//! (`attributes.source.address`).
//!
//! CIDRs are parsed here rather than with a crate (`ipnet` is not in the tree): the check is a
//! mask compare, and the parser is stricter than ipnet's, which accepts host bits
//! (`10.0.0.1/8`) and silently truncates them; a rule with host bits set is a config error.

use std::net::IpAddr;

use crate::request::RequestView;

/// A header condition's operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderOp {
    /// The header, sent once, has exactly this value.
    Equals(String),
    /// The header, sent once, has one of these values.
    OneOf(Vec<String>),
    /// The header, sent once, starts with this.
    Prefix(String),
    /// The header is present (`true`) or absent (`false`).
    Exists(bool),
}

/// One entry of `match.headers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderCondition {
    /// The header name, lower case.
    pub name: String,
    /// What must hold.
    pub op: HeaderOp,
}

impl HeaderCondition {
    /// True when the request's header satisfies the condition. A header sent more than once
    /// satisfies only `exists`: which of its values the upstream reads is not ours to guess.
    /// Envoy's `headers` map joins a repeated header with commas, so a value with a comma
    /// matches only a configured value that has one too.
    pub fn matches(&self, view: &RequestView<'_>) -> bool {
        let single = match view.header(&self.name) {
            Ok(v) => v,
            Err(_) => return self.op == HeaderOp::Exists(true),
        };
        let fits = |v: &str, e: &str| !v.contains(',') || e.contains(',');
        match (&self.op, single) {
            (HeaderOp::Exists(want), v) => v.is_some() == *want,
            (_, None) => false,
            (HeaderOp::Equals(e), Some(v)) => v == e,
            (HeaderOp::OneOf(list), Some(v)) => list.iter().any(|e| e == v),
            (HeaderOp::Prefix(p), Some(v)) => fits(v, p) && v.starts_with(p.as_str()),
        }
    }
}

/// One entry of `match.peers`: an exact SPIFFE ID, or a prefix written with a trailing `/*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerPattern {
    /// Exactly this principal.
    Exact(String),
    /// Any principal starting with this (which ends with `/`).
    Prefix(String),
}

impl PeerPattern {
    /// Parses `spiffe://td/ns/x/sa/y` or `spiffe://td/ns/x/*`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(format!("{text:?} is not a principal"));
        }
        match text.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('/') && !prefix.contains('*') => {
                Ok(Self::Prefix(prefix.to_string()))
            }
            Some(_) => Err(format!(
                "{text:?}: a wildcard is only allowed as a last segment (spiffe://cluster.local/ns/shop/*)"
            )),
            None if text.contains('*') => Err(format!(
                "{text:?}: a wildcard is only allowed as a last segment (spiffe://cluster.local/ns/shop/*)"
            )),
            None => Ok(Self::Exact(text.to_string())),
        }
    }

    /// True when `principal` (empty without mTLS) matches.
    pub fn matches(&self, principal: &str) -> bool {
        !principal.is_empty()
            && match self {
                Self::Exact(p) => principal == p,
                Self::Prefix(p) => principal.len() > p.len() && principal.starts_with(p.as_str()),
            }
    }
}

/// One entry of `match.source_ips`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        let cidr = Self { addr, bits };
        if cidr.masked(addr) != addr {
            return Err(format!(
                "{text:?} has host bits set: write {}/{bits}",
                cidr.masked(addr)
            ));
        }
        Ok(cidr)
    }

    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - self.bits as u32).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - self.bits as u32).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        }
    }

    /// True when `ip` is inside (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && self.masked(ip) == self.addr
    }
}

/// The peer's address from `attributes.source.address` (`ip:port`, `[v6]:port`, or an address).
pub fn source_ip(address: &str) -> Option<IpAddr> {
    address
        .parse::<std::net::SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| address.parse::<IpAddr>())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_match_v4_and_v6_and_refuse_host_bits() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let ten = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(ten.contains(ip("10.1.2.3")));
        assert!(!ten.contains(ip("11.0.0.1")));
        assert!(ten.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped");
        assert!(!ten.contains(ip("fd00::1")));
        let ula = Cidr::parse("fd00::/8").unwrap();
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("fe80::1")));
        assert!(!ula.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        let one = Cidr::parse("192.0.2.7").unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "fd00::1/8",
            "x/8",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("10.0.0.1/8")
            .unwrap_err()
            .contains("write 10.0.0.0/8"));
        assert_eq!(source_ip("10.1.2.3:5555"), Some(ip("10.1.2.3")));
        assert_eq!(source_ip("[fd00::1]:443"), Some(ip("fd00::1")));
        assert_eq!(source_ip("fd00::1"), Some(ip("fd00::1")));
        assert_eq!(source_ip(""), None);
    }

    #[test]
    fn header_conditions_and_repeated_headers() {
        use crate::testing::{check_request, raw_check_request};
        let cond = |op: HeaderOp| HeaderCondition {
            name: "x-api-version".into(),
            op,
        };
        let eq = cond(HeaderOp::Equals("2".into()));
        let one_of = cond(HeaderOp::OneOf(vec!["2".into(), "3".into()]));
        let prefix = cond(HeaderOp::Prefix("2".into()));
        let exists = cond(HeaderOp::Exists(true));
        let absent = cond(HeaderOp::Exists(false));
        let map = |values: &[&str]| {
            let headers: Vec<(&str, &str)> = values.iter().map(|v| ("X-Api-Version", *v)).collect();
            check_request("GET", "/", "h", &headers)
        };
        let list = |values: &[&str]| {
            let headers: Vec<(&str, &str)> = values.iter().map(|v| ("x-api-version", *v)).collect();
            raw_check_request(&headers)
        };
        for req in [map(&["2"]), list(&["2"])] {
            let view = RequestView::new(&req);
            assert!(eq.matches(&view) && one_of.matches(&view) && prefix.matches(&view));
            assert!(exists.matches(&view) && !absent.matches(&view));
        }
        let view_of = |r: &envoy_types::pb::envoy::service::auth::v3::CheckRequest| {
            [eq.clone(), one_of.clone(), prefix.clone(), exists.clone()]
                .map(|c| c.matches(&RequestView::new(r)))
        };
        // Sent twice: Envoy's map joins them ("2,3"), its header_map lists both.
        assert_eq!(view_of(&map(&["2", "3"])), [false, false, false, true]);
        assert_eq!(view_of(&list(&["2", "3"])), [false, false, false, true]);
        assert_eq!(view_of(&map(&["3"])), [false, true, false, true]);
        assert_eq!(view_of(&map(&[])), [false, false, false, false]);
        assert!(absent.matches(&RequestView::new(&map(&[]))));
    }

    #[test]
    fn peers_are_exact_or_a_trailing_segment_wildcard() {
        let web = PeerPattern::parse("spiffe://cluster.local/ns/shop/sa/web").unwrap();
        assert!(web.matches("spiffe://cluster.local/ns/shop/sa/web"));
        assert!(!web.matches("spiffe://cluster.local/ns/shop/sa/webx"));
        assert!(!web.matches(""));
        let ns = PeerPattern::parse("spiffe://cluster.local/ns/shop/*").unwrap();
        assert!(ns.matches("spiffe://cluster.local/ns/shop/sa/web"));
        assert!(!ns.matches("spiffe://cluster.local/ns/shopping/sa/web"));
        assert!(!ns.matches("spiffe://cluster.local/ns/shop/"));
        for bad in ["spiffe://x/*/sa", "spiffe://x*", "", "a b"] {
            assert!(PeerPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
