//! The response written as protobuf bytes directly, without building a `CheckResponse`: no
//! per-header `String`s, no metadata `HashMap`. Sections are streamed in the order the response
//! logic emits them (status, then the ok or denied response, then the dynamic metadata); each
//! nested message reserves one length byte and widens it if the message passes 127 bytes.
//!
//! Field numbers: CheckResponse.status = 1, .denied_response = 2, .ok_response = 3,
//! .dynamic_metadata = 4; google.rpc.Status.code = 1, .message = 2; DeniedHttpResponse.status =
//! 1 (HttpStatus.code = 1), .headers = 2, .body = 3; OkHttpResponse.headers = 2,
//! .headers_to_remove = 5, .query_parameters_to_remove = 8; HeaderValueOption.header = 1
//! (HeaderValue.key = 1, .value = 2), .append_action = 3; Struct.fields = 1 (map entry key = 1,
//! value = 2); Value: null 1, number 2, string 3, bool 4, struct 5, list 6; ListValue.values = 1.

use super::response::Sink;
use crate::jwt::{ClaimValue, ValueKind};

/// `HeaderValueOption.append_action = OVERWRITE_IF_EXISTS_OR_ADD`.
const OVERWRITE_IF_EXISTS_OR_ADD: u64 = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Ok,
    Denied,
    Metadata,
}

impl Section {
    fn field(self) -> u32 {
        match self {
            Section::Denied => 2,
            Section::Ok => 3,
            Section::Metadata => 4,
        }
    }
}

/// Writes a `CheckResponse` into its buffer.
pub(crate) struct WireSink<'o> {
    out: &'o mut Vec<u8>,
    open: Option<(Section, usize)>,
    response_written: bool,
}

impl<'o> WireSink<'o> {
    pub(crate) fn new(out: &'o mut Vec<u8>) -> Self {
        Self {
            out,
            open: None,
            response_written: false,
        }
    }

    fn enter(&mut self, section: Section) {
        if self.open.map(|(s, _)| s) == Some(section) {
            return;
        }
        self.close();
        if section != Section::Metadata {
            self.response_written = true;
        } else if !self.response_written {
            // An allow with nothing to set or remove still has an (empty) ok_response.
            key(self.out, Section::Ok.field(), 2);
            self.out.push(0);
            self.response_written = true;
        }
        key(self.out, section.field(), 2);
        self.open = Some((section, self.out.len()));
        self.out.push(0);
    }

    fn close(&mut self) {
        if let Some((_, at)) = self.open.take() {
            fix_length(self.out, at);
        }
    }

    pub(crate) fn finish(mut self) {
        self.enter(Section::Metadata);
        self.close();
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    key(out, field, 2);
    varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Sets the one-byte length reserved at `at` to the length of what follows, widening it when
/// the message is 128 bytes or longer.
fn fix_length(out: &mut Vec<u8>, at: usize) {
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        // A varint on the stack: this runs for most allows (the metadata passes 127 bytes).
        let (mut bytes, mut n, mut v) = ([0u8; 10], 0, len as u64);
        while v >= 0x80 {
            bytes[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        bytes[n] = v as u8;
        out.splice(at..=at, bytes[..=n].iter().copied());
    }
}

/// Writes `field` as a nested message whose contents `f` writes.
fn nested(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, 2);
    let at = out.len();
    out.push(0);
    f(out);
    fix_length(out, at);
}

/// A `google.protobuf.Value` from a claim.
fn value(out: &mut Vec<u8>, v: ClaimValue<'_>) {
    match v.kind() {
        ValueKind::Null => {
            key(out, 1, 0);
            out.push(0);
        }
        ValueKind::Number => {
            key(out, 2, 1);
            out.extend_from_slice(&v.as_f64().unwrap_or_default().to_le_bytes());
        }
        ValueKind::String => string(out, 3, &v.as_str().unwrap_or_default()),
        ValueKind::Bool => {
            key(out, 4, 0);
            out.push(u8::from(v.as_bool().unwrap_or_default()));
        }
        ValueKind::Object => nested(out, 5, |out| {
            for (k, member) in v.members() {
                map_entry(out, &k, |out| value(out, member));
            }
        }),
        ValueKind::Array => nested(out, 6, |out| {
            for item in v.elements() {
                nested(out, 1, |out| value(out, item));
            }
        }),
    }
}

/// One `Struct.fields` entry.
fn map_entry(out: &mut Vec<u8>, k: &str, v: impl FnOnce(&mut Vec<u8>)) {
    nested(out, 1, |out| {
        string(out, 1, k);
        nested(out, 2, v);
    });
}

impl Sink for WireSink<'_> {
    fn status(&mut self, code: i32, message: &str) {
        nested(self.out, 1, |out| {
            if code != 0 {
                key(out, 1, 0);
                varint(out, code as u64);
            }
            if !message.is_empty() {
                string(out, 2, message);
            }
        });
    }

    fn deny(&mut self, http_status: u16) {
        self.enter(Section::Denied);
        nested(self.out, 1, |out| {
            key(out, 1, 0);
            varint(out, u64::from(http_status));
        });
    }

    fn header(&mut self, name: &str, value: &str) {
        if self.open.map(|(s, _)| s) != Some(Section::Denied) {
            self.enter(Section::Ok);
        }
        nested(self.out, 2, |out| {
            nested(out, 1, |out| {
                string(out, 1, name);
                string(out, 2, value);
            });
            key(out, 3, 0);
            varint(out, OVERWRITE_IF_EXISTS_OR_ADD);
        });
    }

    fn remove_header(&mut self, name: &str) {
        self.enter(Section::Ok);
        string(self.out, 5, name);
    }

    fn remove_query(&mut self, name: &str) {
        self.enter(Section::Ok);
        string(self.out, 8, name);
    }

    fn body(&mut self, body: &str) {
        string(self.out, 3, body);
    }

    fn meta(&mut self, k: &str, v: &str) {
        self.enter(Section::Metadata);
        map_entry(self.out, k, |out| string(out, 3, v));
    }

    fn meta_claim(&mut self, k: &str, v: ClaimValue<'_>) {
        self.enter(Section::Metadata);
        map_entry(self.out, k, |out| value(out, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_widen_across_varint_boundaries() {
        for len in [0usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut out = vec![0xAA];
            nested(&mut out, 7, |o| o.extend(std::iter::repeat_n(b'x', len)));
            // key (field 7, wire type 2), then the length varint, then the payload.
            assert_eq!(&out[..2], &[0xAA, 7 << 3 | 2]);
            let (mut v, mut shift, mut i) = (0usize, 0, 2);
            loop {
                v |= usize::from(out[i] & 0x7f) << shift;
                shift += 7;
                i += 1;
                if out[i - 1] < 0x80 {
                    break;
                }
            }
            assert_eq!(v, len, "length {len}");
            assert_eq!(out.len() - i, len, "payload intact after widening ({len})");
            assert!(out[i..].iter().all(|&b| b == b'x'));
        }
    }
}
