//! Decision → response, exactly as Envoy expects: a deny carries both the gRPC code and the
//! HTTP status (Envoy does not map one to the other), RFC 6750 `WWW-Authenticate`,
//! `cache-control: no-store`; an allow overwrites every configured identity header or removes
//! it, so a client can never smuggle one in.
//!
//! The logic writes to a [`Sink`]: [`build`] collects a prost `CheckResponse` (for `explain`,
//! tests and fuzzing), [`encode`] writes the protobuf bytes directly (the server's path, see
//! `wire_out`). The two are checked against each other in the tests.

use envoy_types::pb::envoy::service::auth::v3::CheckResponse;

use super::check::{Allow, AllowKind, Decision, Deny};
use super::prost_sink::ProstSink;
use super::wire_out::WireSink;
use crate::config::{Config, TokenSource};
use crate::jwt::ClaimValue;
use crate::policy::{Omission, Rendered};
use crate::reason::DenyReason;
use crate::request::RequestView;

/// Header carrying the deny reason when `responses.expose_reason` is on.
pub const REASON_HEADER: &str = "x-jwt-authz-reason";

/// Receives the parts of one response.
pub(crate) trait Sink {
    /// `CheckResponse.status`.
    fn status(&mut self, code: i32, message: &str);
    /// Starts a denied response with this HTTP status.
    fn deny(&mut self, http_status: u16);
    /// A header: set upstream (allow, `OVERWRITE_IF_EXISTS_OR_ADD`) or sent to the client (deny).
    fn header(&mut self, name: &str, value: &str);
    /// A request header removed before the upstream (allow).
    fn remove_header(&mut self, name: &str);
    /// A query parameter removed before the upstream (allow).
    fn remove_query(&mut self, name: &str);
    /// The denied response's body.
    fn body(&mut self, body: &str);
    /// A string entry of the dynamic metadata.
    fn meta(&mut self, key: &str, value: &str);
    /// A claim copied into the dynamic metadata.
    fn meta_claim(&mut self, key: &str, value: ClaimValue<'_>);
}

/// A configured claim header that was removed although its claim is present, because the
/// value could not be forwarded faithfully (counted and logged by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Omitted {
    /// Index into `forward.claims_to_headers`.
    pub header: usize,
    /// Why.
    pub why: Omission,
}

/// Builds the response for a decision as a prost message.
pub fn build(
    decision: &Decision<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
) -> CheckResponse {
    build_explained(decision, view, config).0
}

/// [`build`], and the claim headers it omitted.
pub fn build_explained(
    decision: &Decision<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
) -> (CheckResponse, Vec<Omitted>) {
    let mut sink = ProstSink::default();
    let omitted = write(decision, view, config, &mut sink);
    (sink.finish(), omitted)
}

/// Encodes the response for a decision as protobuf bytes, appended to `out`; returns the claim
/// headers it omitted.
pub fn encode(
    decision: &Decision<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
    out: &mut Vec<u8>,
) -> Vec<Omitted> {
    let mut sink = WireSink::new(out);
    let omitted = write(decision, view, config, &mut sink);
    sink.finish();
    omitted
}

fn write(
    decision: &Decision<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
    sink: &mut impl Sink,
) -> Vec<Omitted> {
    match decision {
        Decision::Allow(a) => allow(a, view, config, sink),
        Decision::Deny(d) => {
            deny(d, config, sink);
            Vec::new()
        }
    }
}

fn allow(
    a: &Allow<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
    sink: &mut impl Sink,
) -> Vec<Omitted> {
    let fwd = &config.forward;
    let claims = a.token.as_ref().map(|t| t.claims.root());
    sink.status(0, "");
    let mut value = String::new();
    let mut omitted = Vec::new();
    for (header, (name, path)) in fwd.claims_to_headers.iter().enumerate() {
        let rendered = claims.map_or(Rendered::Absent, |c| {
            path.write_header_value(c, fwd.max_value_bytes, &mut value)
        });
        match rendered {
            Rendered::Value => sink.header(name, &value),
            Rendered::Absent => sink.remove_header(name),
            Rendered::Omitted(why) => {
                omitted.push(Omitted { header, why });
                sink.remove_header(name);
            }
        }
    }
    if let Some(name) = &fwd.payload_header {
        match &a.token {
            Some(t) => sink.header(name, t.payload_b64),
            None => sink.remove_header(name),
        }
    }
    if fwd.strip_token {
        if let Some(found) = a.found {
            strip(&config.jwt.sources[found.source], found.spelled, view, sink);
        }
    }
    sink.meta("decision", "allow");
    let reason = match &a.kind {
        AllowKind::Token => "ok",
        AllowKind::Public => "public",
        AllowKind::Shadow(d) => {
            sink.meta("shadow_reason", d.reason.as_label());
            "shadow"
        }
    };
    sink.meta("reason", reason);
    if let Some(r) = a.rule {
        sink.meta("rule", &r.name);
    }
    if let Some(t) = &a.token {
        sink.meta("kid", &t.key.kid);
        for claim in ["sub", "iss"] {
            if let Some(v) = t.claims.get_str(claim) {
                sink.meta(claim, &v);
            }
        }
        for path in &fwd.metadata_claims {
            let mut first = None;
            path.visit(t.claims.root(), &mut |v| {
                first.get_or_insert(v);
            });
            if let Some(v) = first {
                sink.meta_claim(path.as_str(), v);
            }
        }
    }
    omitted
}

/// Removes the credential from where it was found. A query parameter is removed by its name and,
/// when the client encoded it, by its spelling too: proxies differ in whether they decode names
/// before matching.
fn strip(
    source: &TokenSource,
    spelled: Option<&str>,
    view: &RequestView<'_>,
    sink: &mut impl Sink,
) {
    match source {
        TokenSource::Header { name, .. } => sink.remove_header(name),
        TokenSource::Query(name) => {
            sink.remove_query(name);
            if let Some(raw) = spelled.filter(|raw| raw != name) {
                sink.remove_query(raw);
            }
        }
        TokenSource::Cookie(name) => {
            let kept: Vec<&str> = view
                .header_values("cookie")
                .flat_map(|h| h.split(';'))
                .map(str::trim)
                .filter(|c| {
                    !c.is_empty() && c.split_once('=').is_none_or(|(k, _)| k.trim() != name)
                })
                .collect();
            if kept.is_empty() {
                sink.remove_header("cookie");
            } else {
                sink.header("cookie", &kept.join("; "));
            }
        }
    }
}

fn deny(d: &Deny<'_>, config: &Config, sink: &mut impl Sink) {
    let class = d.reason.class();
    sink.status(class.grpc_code(), d.reason.as_label());
    sink.deny(class.http_status());
    sink.header("cache-control", "no-store");
    if let Some(www) = www_authenticate(d, &config.responses.realm) {
        sink.header("www-authenticate", &www);
    }
    if config.responses.expose_reason {
        sink.header(REASON_HEADER, d.reason.as_label());
        sink.header("content-type", "application/json");
        let body = serde_json::json!({"error": class.body_error(), "reason": d.reason.as_label()});
        sink.body(&body.to_string());
    }
    sink.meta("decision", "deny");
    sink.meta("reason", d.reason.as_label());
    if let Some(r) = d.rule {
        sink.meta("rule", &r.name);
    }
    if let Some(key) = d.key {
        sink.meta("kid", &key.kid);
    }
}

/// RFC 6750 §3 challenge; `None` for 400s.
fn www_authenticate(d: &Deny<'_>, realm: &str) -> Option<String> {
    let error = d.reason.class().bearer_error();
    let mut v = format!("Bearer realm=\"{realm}\"");
    match error {
        None if d.reason == DenyReason::AmbiguousPath => return None,
        None => {}
        Some(e) => {
            v.push_str(", error=\"");
            v.push_str(e);
            v.push('"');
        }
    }
    if !d.missing_scopes.is_empty() {
        v.push_str(", scope=\"");
        v.push_str(&d.missing_scopes.join(" "));
        v.push('"');
    }
    Some(v)
}
