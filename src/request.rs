//! A borrowed view of the parts of a `CheckRequest` the decision needs. Building it copies
//! nothing; header lookups read Envoy's `headers` map or, with `encode_raw_headers`, its
//! `header_map` list.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::HeaderValue;
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;

/// The request as the decision sees it.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request target as Envoy sent it: with the query, not decoded.
    pub path: &'a str,
    /// Host (`:authority`), possibly with a port.
    pub host: &'a str,
    /// `x-request-id` when present, else Envoy's stream id.
    pub request_id: &'a str,
    /// Per-route `context_extensions`.
    pub context_extensions: Option<&'a HashMap<String, String>>,
    map: Option<&'a HashMap<String, String>>,
    list: &'a [HeaderValue],
}

/// A header appeared more than once where one value is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeated;

const EMPTY_LIST: &[HeaderValue] = &[];

impl<'a> RequestView<'a> {
    /// Views a CheckRequest. Missing parts read as empty.
    pub fn new(req: &'a CheckRequest) -> Self {
        let attrs = req.attributes.as_ref();
        let http = attrs
            .and_then(|a| a.request.as_ref())
            .and_then(|r| r.http.as_ref());
        let base = RequestView {
            method: "",
            path: "",
            host: "",
            request_id: "",
            context_extensions: attrs
                .map(|a| &a.context_extensions)
                .filter(|c| !c.is_empty()),
            map: http.map(|h| &h.headers).filter(|m| !m.is_empty()),
            list: http
                .and_then(|h| h.header_map.as_ref())
                .map_or(EMPTY_LIST, |m| m.headers.as_slice()),
        };
        let Some(h) = http else { return base };
        let pick = |field: &'a str, pseudo: &str| -> &'a str {
            if field.is_empty() {
                base.first(pseudo).unwrap_or("")
            } else {
                field
            }
        };
        RequestView {
            method: pick(&h.method, ":method"),
            path: pick(&h.path, ":path"),
            host: pick(&h.host, ":authority"),
            request_id: base.first("x-request-id").unwrap_or(&h.id),
            ..base
        }
    }

    /// The single value of header `name` (lower case). A header present more than once in
    /// `header_map` is [`Repeated`]; Envoy's `headers` map joins repeats with `,`, which the
    /// caller must treat as ambiguous where a comma cannot occur in a valid value.
    pub fn header(&self, name: &str) -> Result<Option<&'a str>, Repeated> {
        if let Some(v) = self.map.and_then(|m| m.get(name)) {
            return Ok(Some(v));
        }
        let mut found = None;
        for h in self
            .list
            .iter()
            .filter(|h| h.key.eq_ignore_ascii_case(name))
        {
            if found.is_some() {
                return Err(Repeated);
            }
            found = Some(value_of(h));
        }
        Ok(found)
    }

    /// Every value of header `name` (for `cookie`, which HTTP/2 may split).
    pub fn header_values(&self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let from_map = self.map.and_then(|m| m.get(name)).map(String::as_str);
        let from_list = self
            .list
            .iter()
            .filter(move |h| from_map.is_none() && h.key.eq_ignore_ascii_case(name))
            .map(value_of);
        from_map.into_iter().chain(from_list)
    }

    fn first(&self, name: &str) -> Option<&'a str> {
        self.header(name).ok().flatten()
    }

    /// The route's `context_extensions` value for `key`.
    pub fn context_extension(&self, key: &str) -> Option<&'a str> {
        self.context_extensions
            .and_then(|c| c.get(key))
            .map(String::as_str)
    }
}

/// Raw header values (`encode_raw_headers`) arrive as bytes in `raw_value`; non-UTF-8 bytes
/// cannot be part of a token, so such a value reads as empty.
fn value_of(h: &HeaderValue) -> &str {
    if h.raw_value.is_empty() {
        &h.value
    } else {
        std::str::from_utf8(&h.raw_value).unwrap_or("")
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
