//! The zero-copy reader against prost, on arbitrary requests and arbitrary bytes.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{HeaderMap, HeaderValue};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::request::RequestView;

fn request(http: HttpRequest, context: HashMap<String, String>, with_extras: bool) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            source: with_extras.then(|| Peer {
                service: "src".into(),
                principal: "spiffe://x".into(),
                ..Default::default()
            }),
            request: Some(Request {
                time: with_extras.then(Default::default),
                http: Some(http),
            }),
            context_extensions: context,
            ..Default::default()
        }),
    }
}

fn pairs_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z:-]{1,8}", "\\PC{0,12}"), 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_prost(
        id in "\\PC{0,8}", method in "[A-Z]{0,6}", path in "\\PC{0,20}", host in "\\PC{0,12}",
        headers in pairs_strategy(), list in pairs_strategy(), raw in any::<bool>(),
        context in pairs_strategy(), extras in any::<bool>(), body in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let header_map = (!list.is_empty()).then(|| HeaderMap {
            headers: list.iter().map(|(k, v)| HeaderValue {
                key: k.clone(),
                value: if raw { String::new() } else { v.clone() },
                raw_value: if raw { v.as_bytes().to_vec() } else { Vec::new() },
            }).collect(),
        });
        let http = HttpRequest {
            id, method, path, host,
            headers: headers.iter().cloned().collect(),
            header_map,
            raw_body: body,
            size: 42,
            scheme: "https".into(),
            ..Default::default()
        };
        let req = request(http, context.iter().cloned().collect(), extras);
        let bytes = req.encode_to_vec();
        let wire = WireRequest::decode(&bytes).expect("prost's own encoding decodes");
        let ours = RequestView::from_wire(wire);
        let theirs = RequestView::new(&req);
        prop_assert_eq!((ours.method, ours.path, ours.host, ours.request_id), (theirs.method, theirs.path, theirs.host, theirs.request_id));
        let names: Vec<&str> = headers.iter().chain(&list).map(|(k, _)| k.as_str()).chain(["authorization", "cookie", "x-request-id"]).collect();
        for name in names {
            prop_assert_eq!(ours.header(name), theirs.header(name), "{}", name);
            prop_assert_eq!(ours.header_values(name).collect::<Vec<_>>(), theirs.header_values(name).collect::<Vec<_>>());
        }
        for (k, _) in &context {
            prop_assert_eq!(ours.context_extension(k), theirs.context_extension(k));
        }
    }

    /// Arbitrary bytes never panic; whatever prost accepts, the reader accepts too.
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let ours = WireRequest::decode(&bytes);
        if let Ok(req) = CheckRequest::decode(bytes.as_slice()) {
            let ours = ours.expect("prost accepted it");
            let view = RequestView::from_wire(ours);
            let theirs = RequestView::new(&req);
            prop_assert_eq!((view.method, view.path, view.host), (theirs.method, theirs.path, theirs.host));
        }
    }
}

#[test]
fn malformed_inputs_are_errors() {
    let good = request(
        HttpRequest {
            path: "/a".into(),
            ..Default::default()
        },
        HashMap::new(),
        false,
    )
    .encode_to_vec();
    for cut in 1..good.len() {
        assert!(
            WireRequest::decode(&good[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    for bad in [
        &[0x0au8, 0x05, 0x01][..],
        &[0x08],
        &[0xff; 11],
        &[0x0b],
        &[0x00, 0x00],
    ] {
        assert_eq!(WireRequest::decode(bad).unwrap_err(), WireError, "{bad:?}");
    }
    // A string field that is not UTF-8.
    let mut not_utf8 = vec![0x0a, 0x07, 0x22, 0x05, 0x12, 0x03, 0x22, 0x01, 0xff];
    not_utf8[1] = (not_utf8.len() - 2) as u8;
    assert!(WireRequest::decode(&not_utf8).is_err());
}

#[test]
fn deprecated_groups_are_skipped_like_prost_does() {
    // Found by the check fuzzer: a start-group/end-group pair (field 10, wire types 3 and 4)
    // that prost skips as an unknown field was rejected.
    for bytes in [&[0x53u8, 0x54][..], &[0x53, 0x08, 0x01, 0x5b, 0x5c, 0x54]] {
        assert!(CheckRequest::decode(bytes).is_ok());
        assert!(WireRequest::decode(bytes).is_ok(), "{bytes:?}");
    }
    // An unterminated group, a stray end-group, and nesting past the limit are errors.
    let deep: Vec<u8> = std::iter::repeat_n(0x53u8, 200)
        .chain(std::iter::repeat_n(0x54, 200))
        .collect();
    for bytes in [&[0x53u8][..], &[0x54], &deep] {
        assert!(WireRequest::decode(bytes).is_err());
    }
}

#[test]
fn group_nesting_limit_matches_prost() {
    for depth in 90..110 {
        let bytes: Vec<u8> = std::iter::repeat_n(0x53u8, depth)
            .chain(std::iter::repeat_n(0x54, depth))
            .collect();
        let prost_ok = CheckRequest::decode(bytes.as_slice()).is_ok();
        if prost_ok {
            assert!(
                WireRequest::decode(&bytes).is_ok(),
                "depth {depth}: prost accepts, the reader must too"
            );
        }
    }
}
