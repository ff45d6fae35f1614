//! A request described by hand rather than received: what `explain` and the config's decision
//! tests decide on. It is seen exactly as a default Envoy ext_authz filter sends a request:
//! header names lower-cased, a repeated header joined into one value with `,`.

use super::RequestView;
use crate::wire::WireRequest;

/// A hand-described request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synthetic {
    /// HTTP method.
    pub method: String,
    /// Request target (may include a query).
    pub path: String,
    /// Host (`:authority`).
    pub host: String,
    /// Per-route `context_extensions`.
    pub context_extensions: Vec<(String, String)>,
    /// The mTLS peer's identity (`source.principal`).
    pub principal: String,
    /// The peer's IP address (`source.address`).
    pub source_address: String,
    headers: Vec<(String, String)>,
}

impl Synthetic {
    /// A request without headers.
    pub fn new(method: &str, path: &str, host: &str) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            host: host.to_string(),
            ..Self::default()
        }
    }

    /// Adds a header; a name seen before gets the value appended after a `,`, as Envoy joins
    /// repeated headers.
    pub fn header(&mut self, name: &str, value: &str) -> &mut Self {
        let name = name.to_ascii_lowercase();
        match self.headers.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(value);
            }
            None => self.headers.push((name, value.to_string())),
        }
        self
    }

    /// Places `token` where the first of `sources` looks for it (a header with its prefix, a
    /// cookie, or a query parameter appended to the path).
    pub fn token(&mut self, sources: &[crate::config::TokenSource], token: &str) -> &mut Self {
        use crate::config::TokenSource;
        match sources.first() {
            Some(TokenSource::Header { name, prefix }) => {
                let value = format!("{}{token}", prefix.as_deref().unwrap_or(""));
                self.header(name, &value)
            }
            Some(TokenSource::Cookie(name)) => self.header("cookie", &format!("{name}={token}")),
            Some(TokenSource::Query(name)) => {
                let sep = if self.path.contains('?') { '&' } else { '?' };
                self.path = format!("{}{sep}{name}={token}", self.path);
                self
            }
            None => self,
        }
    }

    /// The headers, as Envoy would send them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The request as the decision sees it.
    pub fn view(&self) -> RequestView<'_> {
        RequestView::from_wire(WireRequest {
            id: "",
            method: &self.method,
            path: &self.path,
            host: &self.host,
            headers: pairs(&self.headers),
            header_list: Vec::new(),
            context_extensions: pairs(&self.context_extensions),
            principal: &self.principal,
            source_address: &self.source_address,
        })
    }
}

fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_like_an_envoy_request() {
        let mut r = Synthetic::new("GET", "/a?b=1", "api.example.com");
        r.header("X-Request-Id", "r-1")
            .header("X-Dup", "1")
            .header("x-dup", "2");
        r.principal = "spiffe://cluster.local/ns/a/sa/b".into();
        r.context_extensions
            .push(("jwt-authz-rule".into(), "x".into()));
        let v = r.view();
        assert_eq!(
            (v.method, v.path, v.host, v.request_id),
            ("GET", "/a?b=1", "api.example.com", "r-1")
        );
        assert_eq!(v.header("x-dup"), Ok(Some("1,2")));
        assert_eq!(v.principal, "spiffe://cluster.local/ns/a/sa/b");
        assert_eq!(v.context_extension("jwt-authz-rule"), Some("x"));
    }
}
