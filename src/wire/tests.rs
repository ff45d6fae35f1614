//! The zero-copy reader against prost, on arbitrary requests and arbitrary bytes.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3::{
    address, socket_address, Address, HeaderMap, HeaderValue, Pipe, SocketAddress,
};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::request::RequestView;
use crate::testing::summarize;

fn request(
    http: HttpRequest,
    context: HashMap<String, String>,
    peer: Option<Peer>,
) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            source: peer,
            request: Some(Request {
                time: Some(Default::default()),
                http: Some(http),
            }),
            context_extensions: context,
            ..Default::default()
        }),
    }
}

fn peer(principal: String, address: Option<String>, pipe: bool) -> Peer {
    let address = match (address, pipe) {
        (_, true) => Some(address::Address::Pipe(Pipe {
            path: "/run/x.sock".into(),
            mode: 0,
        })),
        (Some(a), false) => Some(address::Address::SocketAddress(SocketAddress {
            address: a,
            port_specifier: Some(socket_address::PortSpecifier::PortValue(4242)),
            ..Default::default()
        })),
        (None, false) => None,
    };
    Peer {
        service: "src".into(),
        principal,
        address: address.map(|a| Address { address: Some(a) }),
        ..Default::default()
    }
}

fn pairs_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-z:-]{1,8}", "\\PC{0,12}"), 0..6)
}

/// The reader's view and prost's view of the same bytes summarize equally.
fn assert_same_view(bytes: &[u8], req: &CheckRequest) -> Result<(), TestCaseError> {
    let wire = WireRequest::decode(bytes).map_err(|_| TestCaseError::fail("prost accepted it"))?;
    prop_assert_eq!(
        summarize(&RequestView::from_wire(wire)),
        summarize(&RequestView::new(req))
    );
    Ok(())
}

/// A well-formed request with every field the reader reads, and some it skips.
fn request_strategy() -> impl Strategy<Value = CheckRequest> {
    (
        ("\\PC{0,8}", "[A-Z]{0,6}", "\\PC{0,20}", "\\PC{0,12}"),
        (
            pairs_strategy(),
            pairs_strategy(),
            any::<bool>(),
            pairs_strategy(),
        ),
        (
            proptest::option::of((
                "\\PC{0,12}",
                proptest::option::of("[0-9a-f:.]{0,16}"),
                any::<bool>(),
            )),
            prop::collection::vec(any::<u8>(), 0..16),
        ),
    )
        .prop_map(
            |((id, method, path, host), (headers, list, raw, context), (source, body))| {
                let header_map = (!list.is_empty()).then(|| HeaderMap {
                    headers: list
                        .iter()
                        .map(|(k, v)| HeaderValue {
                            key: k.clone(),
                            value: if raw { String::new() } else { v.clone() },
                            raw_value: if raw {
                                v.as_bytes().to_vec()
                            } else {
                                Vec::new()
                            },
                        })
                        .collect(),
                });
                let http = HttpRequest {
                    id,
                    method,
                    path,
                    host,
                    headers: headers.into_iter().collect(),
                    header_map,
                    raw_body: body,
                    size: 42,
                    scheme: "https".into(),
                    ..Default::default()
                };
                let source = source.map(|(p, a, pipe)| peer(p, a, pipe));
                request(http, context.into_iter().collect(), source)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_prost(req in request_strategy()) {
        assert_same_view(&req.encode_to_vec(), &req)?;
    }

    /// Mutated encodings (bytes flipped, inserted, removed, or two encodings concatenated, which
    /// protobuf merges): wherever prost still accepts, the reader reads the same request.
    #[test]
    fn mutations_agree_with_prost(
        a in request_strategy(), b in request_strategy(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 0..4),
    ) {
        let mut bytes = a.encode_to_vec();
        for (at, byte, op) in edits {
            let i = if bytes.is_empty() { 0 } else { at.index(bytes.len()) };
            match op {
                0 if !bytes.is_empty() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                2 if !bytes.is_empty() => { bytes.remove(i); }
                _ => bytes.extend(b.encode_to_vec()),
            }
        }
        if let Ok(req) = CheckRequest::decode(bytes.as_slice()) {
            assert_same_view(&bytes, &req)?;
        }
    }

    /// Arbitrary bytes never panic; whatever prost accepts, the reader reads the same way.
    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let ours = WireRequest::decode(&bytes);
        if let Ok(req) = CheckRequest::decode(bytes.as_slice()) {
            prop_assert!(ours.is_ok());
            assert_same_view(&bytes, &req)?;
        }
    }
}

#[test]
fn a_map_entry_field_3_is_skipped_like_prost_does() {
    // headers map entry {1: "authorization", 2: "Bearer a", 3: "Bearer b"}: prost ignores the
    // unknown field 3; reading it as a HeaderValue's raw_value made it the value.
    let entry = [
        &[0x0a, 13][..],
        b"authorization",
        &[0x12, 8],
        b"Bearer a",
        &[0x1a, 8],
        b"Bearer b",
    ]
    .concat();
    let http = [&[0x1a, entry.len() as u8][..], &entry].concat();
    let request = [&[0x12, http.len() as u8][..], &http].concat();
    let attributes = [&[0x22, request.len() as u8][..], &request].concat();
    let bytes = [&[0x0a, attributes.len() as u8][..], &attributes].concat();
    let theirs = CheckRequest::decode(bytes.as_slice()).unwrap();
    let ours = RequestView::from_wire(WireRequest::decode(&bytes).unwrap());
    assert_eq!(ours.header("authorization"), Ok(Some("Bearer a")));
    assert_eq!(summarize(&ours), summarize(&RequestView::new(&theirs)));
}

#[test]
fn the_peer_address_follows_the_last_oneof_variant() {
    let with = |p: Peer| {
        let req = request(HttpRequest::default(), HashMap::new(), Some(p));
        RequestView::new(&req).source_address.to_string()
    };
    assert_eq!(
        with(peer("p".into(), Some("10.0.0.1".into()), false)),
        "10.0.0.1"
    );
    assert_eq!(with(peer("p".into(), Some("10.0.0.1".into()), true)), "");
    // Socket address then pipe, encoded one after the other: the pipe wins.
    let socket = request(
        HttpRequest::default(),
        HashMap::new(),
        Some(peer("p".into(), Some("10.0.0.1".into()), false)),
    );
    let pipe = request(
        HttpRequest::default(),
        HashMap::new(),
        Some(peer("q".into(), None, true)),
    );
    let merged = [socket.encode_to_vec(), pipe.encode_to_vec()].concat();
    let theirs = CheckRequest::decode(merged.as_slice()).unwrap();
    let ours = RequestView::from_wire(WireRequest::decode(&merged).unwrap());
    assert_eq!((ours.principal, ours.source_address), ("q", ""));
    assert_eq!(summarize(&ours), summarize(&RequestView::new(&theirs)));
}

#[test]
fn malformed_inputs_are_errors() {
    let good = request(
        HttpRequest {
            path: "/a".into(),
            ..Default::default()
        },
        HashMap::new(),
        None,
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
