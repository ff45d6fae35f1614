//! A borrowed view of the parts of a request the decision needs, built either from the
//! protobuf bytes (the server: see [`crate::wire`], nothing copied) or from a decoded
//! `CheckRequest` (`explain`, tests, benches). Header lookups read Envoy's `headers` map or,
//! with `encode_raw_headers`, its `header_map` list.

mod synthetic;

pub use synthetic::Synthetic;

use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;

use crate::wire::WireRequest;

/// The request as the decision sees it.
#[derive(Clone, Debug)]
pub struct RequestView<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request target as Envoy sent it: with the query, not decoded.
    pub path: &'a str,
    /// Host (`:authority`), possibly with a port.
    pub host: &'a str,
    /// `x-request-id` when present, else Envoy's stream id.
    pub request_id: &'a str,
    /// The mTLS peer's identity (`source.principal`; a SPIFFE ID under Istio), or empty.
    pub principal: &'a str,
    /// The peer's IP address (`source.address`), or empty.
    pub source_address: &'a str,
    /// `headers` map entries (unique, exact names; the last wins like a protobuf map), or
    /// `header_map` entries (repeats kept, names compared case-insensitively).
    headers: Vec<(&'a str, &'a str)>,
    /// True when `headers` came from `header_map`.
    list: bool,
    /// Per-route `context_extensions` (last wins).
    context: Vec<(&'a str, &'a str)>,
}

/// A header appeared more than once where one value is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeated;

impl<'a> RequestView<'a> {
    /// Views a decoded CheckRequest. Missing parts read as empty.
    pub fn new(req: &'a CheckRequest) -> Self {
        let attrs = req.attributes.as_ref();
        let http = attrs
            .and_then(|a| a.request.as_ref())
            .and_then(|r| r.http.as_ref());
        let pairs = |m: &'a std::collections::HashMap<String, String>| -> Vec<(&'a str, &'a str)> {
            m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
        };
        let source = attrs.and_then(|a| a.source.as_ref());
        let socket = source
            .and_then(|p| p.address.as_ref())
            .and_then(|a| match &a.address {
                Some(Address::SocketAddress(s)) => Some(s.address.as_str()),
                _ => None,
            });
        let wire = WireRequest {
            principal: source.map_or("", |p| &p.principal),
            source_address: socket.unwrap_or(""),
            id: http.map_or("", |h| &h.id),
            method: http.map_or("", |h| &h.method),
            path: http.map_or("", |h| &h.path),
            host: http.map_or("", |h| &h.host),
            headers: http.map(|h| pairs(&h.headers)).unwrap_or_default(),
            header_list: http
                .and_then(|h| h.header_map.as_ref())
                .map(|m| {
                    m.headers
                        .iter()
                        .map(|h| (h.key.as_str(), value_of(&h.value, &h.raw_value)))
                        .collect()
                })
                .unwrap_or_default(),
            context_extensions: attrs
                .map(|a| pairs(&a.context_extensions))
                .unwrap_or_default(),
        };
        Self::from_wire(wire)
    }

    /// Views a request read from its protobuf bytes.
    pub fn from_wire(w: WireRequest<'a>) -> Self {
        let list = w.headers.is_empty();
        let mut view = RequestView {
            method: w.method,
            path: w.path,
            host: w.host,
            request_id: w.id,
            principal: w.principal,
            source_address: w.source_address,
            headers: if list { w.header_list } else { w.headers },
            list,
            context: w.context_extensions,
        };
        let pick = |field: &'a str, pseudo: &str, v: &Self| -> &'a str {
            if field.is_empty() {
                v.first(pseudo).unwrap_or("")
            } else {
                field
            }
        };
        view.method = pick(view.method, ":method", &view);
        view.path = pick(view.path, ":path", &view);
        view.host = pick(view.host, ":authority", &view);
        if let Some(id) = view.first("x-request-id") {
            view.request_id = id;
        }
        view
    }

    fn matches(&self, key: &str, name: &str) -> bool {
        if self.list {
            key.eq_ignore_ascii_case(name)
        } else {
            key == name
        }
    }

    /// The single value of header `name` (lower case). A header present more than once in
    /// `header_map` is [`Repeated`]; Envoy's `headers` map joins repeats with `,`, which the
    /// caller must treat as ambiguous where a comma cannot occur in a valid value.
    pub fn header(&self, name: &str) -> Result<Option<&'a str>, Repeated> {
        let mut found = self
            .headers
            .iter()
            .rev()
            .filter(|(k, _)| self.matches(k, name));
        let last = found.next().map(|&(_, v)| v);
        if self.list && last.is_some() && found.next().is_some() {
            return Err(Repeated);
        }
        Ok(last)
    }

    /// Every value of header `name` (for `cookie`, which HTTP/2 may split), in order.
    pub fn header_values<'v>(&'v self, name: &'v str) -> impl Iterator<Item = &'a str> + 'v {
        let single = (!self.list)
            .then(|| self.header(name).ok().flatten())
            .flatten();
        let listed = self
            .headers
            .iter()
            .filter(move |(k, _)| self.list && self.matches(k, name))
            .map(|&(_, v)| v);
        single.into_iter().chain(listed)
    }

    fn first(&self, name: &str) -> Option<&'a str> {
        self.header(name).ok().flatten()
    }

    /// The header entries as received: the `headers` map's entries or, when
    /// [`Self::is_header_list`], the `header_map` list's.
    pub fn header_entries(&self) -> &[(&'a str, &'a str)] {
        &self.headers
    }

    /// True when the headers came from `header_map` (`encode_raw_headers`).
    pub fn is_header_list(&self) -> bool {
        self.list
    }

    /// The `context_extensions` entries as received.
    pub fn context_entries(&self) -> &[(&'a str, &'a str)] {
        &self.context
    }

    /// The route's `context_extensions` value for `key`.
    pub fn context_extension(&self, key: &str) -> Option<&'a str> {
        self.context
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|&(_, v)| v)
    }
}

/// Raw header values (`encode_raw_headers`) arrive as bytes in `raw_value`; non-UTF-8 bytes
/// cannot be part of a token, so such a value reads as empty.
fn value_of<'a>(value: &'a str, raw: &'a [u8]) -> &'a str {
    if raw.is_empty() {
        value
    } else {
        std::str::from_utf8(raw).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_request, raw_check_request};

    #[test]
    fn reads_http_fields_and_request_id() {
        let req = check_request(
            "POST",
            "/a?b=1",
            "api.example.com",
            &[("x-request-id", "r-1")],
        );
        let v = RequestView::new(&req);
        assert_eq!(
            (v.method, v.path, v.host, v.request_id),
            ("POST", "/a?b=1", "api.example.com", "r-1")
        );
        assert_eq!(v.header("x-request-id"), Ok(Some("r-1")));
        assert_eq!(v.header("absent"), Ok(None));
    }

    #[test]
    fn falls_back_to_pseudo_headers_in_raw_mode() {
        let req = raw_check_request(&[
            (":method", "GET"),
            (":path", "/p"),
            (":authority", "h"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
            ("authorization", "Bearer x"),
            ("authorization", "Bearer y"),
        ]);
        let v = RequestView::new(&req);
        assert_eq!((v.method, v.path, v.host), ("GET", "/p", "h"));
        assert_eq!(
            v.header_values("cookie").collect::<Vec<_>>(),
            ["a=1", "b=2"]
        );
        assert_eq!(v.header("authorization"), Err(Repeated));
    }

    #[test]
    fn empty_request_is_harmless() {
        let req = CheckRequest::default();
        let v = RequestView::new(&req);
        assert_eq!((v.method, v.path, v.host), ("", "", ""));
        assert_eq!(v.header("authorization"), Ok(None));
        assert!(v.context_extension("jwt-authz-rule").is_none());
    }
}
