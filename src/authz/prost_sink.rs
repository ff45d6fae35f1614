//! The response as a prost `CheckResponse` (for `explain`, tests and fuzzing; the server writes
//! the bytes directly with `wire_out`).

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::google::protobuf::{value::Kind, ListValue, Struct, Value};
use envoy_types::pb::google::rpc;

use super::response::Sink;
use crate::jwt::{ClaimValue, ValueKind};

/// Collects a prost `CheckResponse`.
#[derive(Default)]
pub(crate) struct ProstSink {
    status: rpc::Status,
    denied: Option<DeniedHttpResponse>,
    ok: OkHttpResponse,
    metadata: HashMap<String, Value>,
}

impl ProstSink {
    pub(crate) fn finish(self) -> CheckResponse {
        let http_response = match self.denied {
            Some(d) => HttpResponse::DeniedResponse(d),
            None => HttpResponse::OkResponse(self.ok),
        };
        CheckResponse {
            status: Some(self.status),
            http_response: Some(http_response),
            dynamic_metadata: Some(Struct {
                fields: self.metadata,
            }),
        }
    }
}

impl Sink for ProstSink {
    fn status(&mut self, code: i32, message: &str) {
        self.status = rpc::Status {
            code,
            message: message.to_string(),
            details: Vec::new(),
        };
    }

    fn deny(&mut self, http_status: u16) {
        self.denied = Some(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(http_status),
            }),
            ..Default::default()
        });
    }

    fn header(&mut self, name: &str, value: &str) {
        let option = HeaderValueOption {
            header: Some(HeaderValue {
                key: name.to_string(),
                value: value.to_string(),
                ..Default::default()
            }),
            append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
            ..Default::default()
        };
        match &mut self.denied {
            Some(d) => d.headers.push(option),
            None => self.ok.headers.push(option),
        }
    }

    fn remove_header(&mut self, name: &str) {
        self.ok.headers_to_remove.push(name.to_string());
    }

    fn remove_query(&mut self, name: &str) {
        self.ok.query_parameters_to_remove.push(name.to_string());
    }

    fn body(&mut self, body: &str) {
        if let Some(d) = &mut self.denied {
            d.body = body.to_string();
        }
    }

    fn meta(&mut self, key: &str, value: &str) {
        let value = Value {
            kind: Some(Kind::StringValue(value.to_string())),
        };
        self.metadata.insert(key.to_string(), value);
    }

    fn meta_claim(&mut self, key: &str, value: ClaimValue<'_>) {
        self.metadata.insert(key.to_string(), to_proto(value));
    }
}

/// A claim → protobuf Value.
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
