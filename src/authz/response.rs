//! Decision → `CheckResponse`, exactly as Envoy expects: a deny carries both the gRPC code and
//! the HTTP status (Envoy does not map one to the other), RFC 6750 `WWW-Authenticate`,
//! `cache-control: no-store`; an allow overwrites every configured identity header or removes
//! it, so a client can never smuggle one in.

use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::protobuf::{value::Kind, ListValue, Struct, Value};
use envoy_types::pb::google::rpc;

use std::collections::HashMap;

use super::check::{Allow, AllowKind, Decision, Deny};
use crate::config::{Config, TokenSource};
use crate::jwt::{ClaimValue, ValueKind};
use crate::reason::DenyReason;
use crate::request::RequestView;

/// Header carrying the deny reason when `responses.expose_reason` is on.
pub const REASON_HEADER: &str = "x-jwt-authz-reason";

/// Builds the response for a decision.
pub fn build(
    decision: &Decision<'_, '_>,
    view: &RequestView<'_>,
    config: &Config,
) -> CheckResponse {
    match decision {
        Decision::Allow(a) => allow(a, view, config),
        Decision::Deny(d) => deny(d, config),
    }
}

fn header(key: &str, value: String) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..Default::default()
    }
}

fn string(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_string())),
    }
}

fn allow(a: &Allow<'_, '_>, view: &RequestView<'_>, config: &Config) -> CheckResponse {
    let fwd = &config.forward;
    let claims = a.token.as_ref().map(|t| t.claims.root());
    let mut ok = OkHttpResponse::default();
    for (name, path) in &fwd.claims_to_headers {
        match claims.and_then(|c| path.header_value(c, fwd.max_value_bytes)) {
            Some(v) => ok.headers.push(header(name, v)),
            None => ok.headers_to_remove.push(name.clone()),
        }
    }
    if let Some(name) = &fwd.payload_header {
        match &a.token {
            Some(t) => ok.headers.push(header(name, t.payload_b64.to_string())),
            None => ok.headers_to_remove.push(name.clone()),
        }
    }
    if fwd.strip_token {
        if let Some(found) = a.found {
            strip(&config.jwt.sources[found.source], view, &mut ok);
        }
    }
    let mut fields = HashMap::with_capacity(8 + fwd.metadata_claims.len());
    fields.insert("decision".to_string(), string("allow"));
    let reason = match &a.kind {
        AllowKind::Token => "ok",
        AllowKind::Public => "public",
        AllowKind::Shadow(d) => {
            fields.insert("shadow_reason".into(), string(d.reason.as_label()));
            "shadow"
        }
    };
    fields.insert("reason".into(), string(reason));
    if let Some(r) = a.rule {
        fields.insert("rule".into(), string(&r.name));
    }
    if let Some(t) = &a.token {
        fields.insert("kid".into(), string(&t.key.kid));
        for claim in ["sub", "iss"] {
            if let Some(v) = t.claims.get_str(claim) {
                fields.insert(claim.into(), string(&v));
            }
        }
        for path in &fwd.metadata_claims {
            let mut first = None;
            path.visit(t.claims.root(), &mut |v| {
                first.get_or_insert(v);
            });
            if let Some(v) = first {
                fields.insert(path.as_str().to_string(), to_proto(v));
            }
        }
    }
    CheckResponse {
        status: Some(rpc::Status::default()),
        http_response: Some(HttpResponse::OkResponse(ok)),
        dynamic_metadata: Some(Struct { fields }),
    }
}

/// Removes the credential from where it was found.
fn strip(source: &TokenSource, view: &RequestView<'_>, ok: &mut OkHttpResponse) {
    match source {
        TokenSource::Header { name, .. } => ok.headers_to_remove.push(name.clone()),
        TokenSource::Query(name) => ok.query_parameters_to_remove.push(name.clone()),
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
                ok.headers_to_remove.push("cookie".into());
            } else {
                ok.headers.push(header("cookie", kept.join("; ")));
            }
        }
    }
}

/// A claim → protobuf Value for dynamic metadata.
fn to_proto(v: ClaimValue<'_>) -> Value {
    let kind = match v.kind() {
        ValueKind::Null => Kind::NullValue(0),
        ValueKind::Bool => Kind::BoolValue(v.as_bool().unwrap_or_default()),
        ValueKind::Number => Kind::NumberValue(v.as_f64().unwrap_or_default()),
        ValueKind::String => Kind::StringValue(v.as_str().unwrap_or_default().into_owned()),
        ValueKind::Array => Kind::ListValue(ListValue {
            values: v.elements().map(to_proto).collect(),
        }),
        ValueKind::Object => Kind::StructValue(Struct {
            fields: v
                .members()
                .map(|(k, v)| (k.into_owned(), to_proto(v)))
                .collect(),
        }),
    };
    Value { kind: Some(kind) }
}

fn deny(d: &Deny<'_>, config: &Config) -> CheckResponse {
    let class = d.reason.class();
    let mut headers = vec![header("cache-control", "no-store".into())];
    if let Some(www) = www_authenticate(d, &config.responses.realm) {
        headers.push(header("www-authenticate", www));
    }
    let mut body = String::new();
    if config.responses.expose_reason {
        headers.push(header(REASON_HEADER, d.reason.as_label().into()));
        headers.push(header("content-type", "application/json".into()));
        body = serde_json::json!({"error": class.body_error(), "reason": d.reason.as_label()})
            .to_string();
    }
    let mut fields = HashMap::with_capacity(4);
    fields.insert("decision".to_string(), string("deny"));
    fields.insert("reason".into(), string(d.reason.as_label()));
    if let Some(r) = d.rule {
        fields.insert("rule".into(), string(&r.name));
    }
    if let Some(key) = d.key {
        fields.insert("kid".into(), string(&key.kid));
    }
    CheckResponse {
        status: Some(rpc::Status {
            code: class.grpc_code(),
            message: d.reason.as_label().into(),
            details: Vec::new(),
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(class.http_status()),
            }),
            headers,
            body,
        })),
        dynamic_metadata: Some(Struct { fields }),
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
