//! Zero-copy reading of a `CheckRequest` from its protobuf bytes: only the fields the decision
//! needs, borrowed from the input (no `HashMap<String, String>` of headers per Check). Unknown
//! and unused fields are skipped; malformed input is an error. `tests` compares it with prost.
//!
//! Field numbers (envoy `service/auth/v3`): CheckRequest.attributes = 1;
//! AttributeContext.source = 1, .request = 4, .context_extensions = 10 (map); Peer.address = 1,
//! .principal = 4; Address.socket_address = 1 (a oneof with pipe = 2 and
//! envoy_internal_address = 3); SocketAddress.address = 2; Request.http = 2; HttpRequest.id = 1,
//! .method = 2, .headers = 3 (map), .path = 4, .host = 5, .header_map = 13; HeaderMap.headers =
//! 1; HeaderValue.key = 1, .value = 2, .raw_value = 3; map entry key = 1, value = 2 (any other
//! field of a map entry is skipped, as prost does).

#[cfg(test)]
mod tests;

/// The input is not a well-formed CheckRequest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed CheckRequest protobuf")]
pub struct WireError;

/// The parts of a CheckRequest the decision reads, borrowed from the encoded message.
#[derive(Debug, Default)]
pub struct WireRequest<'a> {
    /// `http.id`.
    pub id: &'a str,
    /// `http.method`.
    pub method: &'a str,
    /// `http.path`.
    pub path: &'a str,
    /// `http.host`.
    pub host: &'a str,
    /// `http.headers` entries (Envoy's default encoding).
    pub headers: Vec<(&'a str, &'a str)>,
    /// `http.header_map.headers` (with `encode_raw_headers`; values from `raw_value` when set).
    pub header_list: Vec<(&'a str, &'a str)>,
    /// `context_extensions` entries.
    pub context_extensions: Vec<(&'a str, &'a str)>,
    /// `source.principal`: the mTLS peer's identity (a SPIFFE ID under Istio).
    pub principal: &'a str,
    /// `source.address.socket_address.address`: the peer's IP.
    pub source_address: &'a str,
}

/// Deepest nesting of skipped groups (prost's recursion limit).
const MAX_GROUP_DEPTH: usize = 100;

/// A protobuf reader over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(WireError)
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError)?;
        if len > self.buf.len() {
            return Err(WireError);
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    fn str(&mut self) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| WireError)
    }

    /// The whole remaining payload as a string (a string field handed over by `each`).
    fn str_payload(&mut self) -> Result<&'a str, WireError> {
        let text = std::str::from_utf8(self.buf).map_err(|_| WireError)?;
        self.buf = &[];
        Ok(text)
    }

    /// Each field as (number, wire type); length-delimited payloads are read by the caller.
    fn next(&mut self) -> Result<Option<(u32, u8)>, WireError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = u32::try_from(key >> 3).map_err(|_| WireError)?;
        if field == 0 {
            return Err(WireError);
        }
        Ok(Some((field, (key & 7) as u8)))
    }

    /// Calls `f` with the payload of each occurrence of message field `wanted` (which must be
    /// length-delimited), skipping every other field.
    fn each(
        &mut self,
        wanted: u32,
        mut f: impl FnMut(Reader<'a>) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        while let Some((field, wt)) = self.next()? {
            if field == wanted {
                f(delimited(self, wt)?)?;
            } else {
                self.skip(wt)?;
            }
        }
        Ok(())
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), WireError> {
        self.skip_nested(wire_type, 0)
    }

    /// Skips one field's value; deprecated groups (wire type 3 up to the matching 4) nest at
    /// most [`MAX_GROUP_DEPTH`] deep, as prost allows.
    fn skip_nested(&mut self, wire_type: u8, depth: usize) -> Result<(), WireError> {
        match wire_type {
            0 => self.varint().map(drop),
            1 => self.advance(8),
            2 => self.bytes().map(drop),
            3 if depth < MAX_GROUP_DEPTH => loop {
                match self.next()?.ok_or(WireError)? {
                    (_, 4) => return Ok(()),
                    (_, wt) => self.skip_nested(wt, depth + 1)?,
                }
            },
            5 => self.advance(4),
            _ => Err(WireError),
        }
    }

    fn advance(&mut self, n: usize) -> Result<(), WireError> {
        if n > self.buf.len() {
            return Err(WireError);
        }
        self.buf = &self.buf[n..];
        Ok(())
    }
}

/// The payload of a length-delimited field; any other wire type fails.
fn delimited<'a>(r: &mut Reader<'a>, wire_type: u8) -> Result<Reader<'a>, WireError> {
    if wire_type != 2 {
        return Err(WireError);
    }
    Ok(Reader { buf: r.bytes()? })
}

/// A map entry: strings at fields 1 and 2; other fields are skipped.
fn map_entry<'a>(mut r: Reader<'a>) -> Result<(&'a str, &'a str), WireError> {
    let (mut key, mut value) = ("", "");
    while let Some((field, wt)) = r.next()? {
        match (field, wt) {
            (1, 2) => key = r.str()?,
            (2, 2) => value = r.str()?,
            (_, wt) => r.skip(wt)?,
        }
    }
    Ok((key, value))
}

/// A HeaderValue: key 1, value 2, raw_value 3 (bytes, preferred when not empty).
fn header_value<'a>(mut r: Reader<'a>) -> Result<(&'a str, &'a str), WireError> {
    let (mut key, mut value, mut raw): (&str, &str, &[u8]) = ("", "", &[]);
    while let Some((field, wt)) = r.next()? {
        match (field, wt) {
            (1, 2) => key = r.str()?,
            (2, 2) => value = r.str()?,
            (3, 2) => raw = r.bytes()?,
            (_, wt) => r.skip(wt)?,
        }
    }
    // raw_value bytes that are not UTF-8 cannot hold a token: read as empty.
    if !raw.is_empty() {
        value = std::str::from_utf8(raw).unwrap_or("");
    }
    Ok((key, value))
}

/// Appends a header; Envoy sends 10-30 of them, so the first push makes room for 32 (one
/// allocation instead of growing through 4, 8, 16 and 32).
fn push<'a>(list: &mut Vec<(&'a str, &'a str)>, pair: (&'a str, &'a str)) {
    if list.capacity() == 0 {
        list.reserve(32);
    }
    list.push(pair);
}

impl<'a> WireRequest<'a> {
    /// Reads an encoded CheckRequest.
    pub fn decode(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut out = WireRequest::default();
        Reader { buf }.each(1, |mut attrs| {
            while let Some((field, wt)) = attrs.next()? {
                match field {
                    1 => out.peer(delimited(&mut attrs, wt)?)?,
                    4 => delimited(&mut attrs, wt)?.each(2, |http| out.http(http))?,
                    10 => out
                        .context_extensions
                        .push(map_entry(delimited(&mut attrs, wt)?)?),
                    _ => attrs.skip(wt)?,
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// `attributes.source`: the principal, and the address when the oneof's last variant is a
    /// socket address (prost replaces a oneof on a variant change and merges on a repeat).
    fn peer(&mut self, mut peer: Reader<'a>) -> Result<(), WireError> {
        while let Some((field, wt)) = peer.next()? {
            match (field, wt) {
                (1, 2) => {
                    let mut address = delimited(&mut peer, wt)?;
                    while let Some((variant, wt)) = address.next()? {
                        match (variant, wt) {
                            (1, 2) => delimited(&mut address, wt)?.each(2, |mut a| {
                                self.source_address = a.str_payload()?;
                                Ok(())
                            })?,
                            (2 | 3, _) => {
                                self.source_address = "";
                                address.skip(wt)?;
                            }
                            (_, wt) => address.skip(wt)?,
                        }
                    }
                }
                (4, 2) => self.principal = peer.str()?,
                (_, wt) => peer.skip(wt)?,
            }
        }
        Ok(())
    }

    /// `attributes.request.http`.
    fn http(&mut self, mut http: Reader<'a>) -> Result<(), WireError> {
        while let Some((field, wt)) = http.next()? {
            match (field, wt) {
                (1, 2) => self.id = http.str()?,
                (2, 2) => self.method = http.str()?,
                (3, 2) => push(&mut self.headers, map_entry(delimited(&mut http, wt)?)?),
                (4, 2) => self.path = http.str()?,
                (5, 2) => self.host = http.str()?,
                (13, 2) => delimited(&mut http, wt)?.each(1, |entry| {
                    push(&mut self.header_list, header_value(entry)?);
                    Ok(())
                })?,
                (_, wt) => http.skip(wt)?,
            }
        }
        Ok(())
    }
}
