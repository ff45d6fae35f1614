//! Finds the token in the request: the configured sources in order, the first hit wins. A
//! source that holds more than one credential is `malformed`, never "the first one": Envoy
//! joins a repeated `Authorization` header into `Bearer a,Bearer b`, and picking either would
//! let a proxy and jwt-authz disagree about who is calling.

use super::TokenError;
use crate::config::TokenSource;
use crate::reason::DenyReason;
use crate::request::RequestView;

/// A token and the index of the source it came from (`jwt.sources[i]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    /// The token text.
    pub token: &'a str,
    /// Which configured source held it.
    pub source: usize,
    /// For a query source: the parameter name as the client spelled it (`%61t` for `at`), so
    /// that `strip_token` removes it however a proxy matches names.
    pub spelled: Option<&'a str>,
}

fn malformed(detail: &'static str) -> TokenError {
    TokenError {
        miss: None,
        reason: DenyReason::Malformed,
        detail,
    }
}

/// Looks for a token; `Ok(None)` when no source has one.
pub fn extract<'a>(
    view: &RequestView<'a>,
    sources: &[TokenSource],
    max_header_bytes: usize,
) -> Result<Option<Found<'a>>, TokenError> {
    for (index, source) in sources.iter().enumerate() {
        let (token, spelled) = match source {
            TokenSource::Header { name, prefix } => (
                from_header(view, name, prefix.as_deref(), max_header_bytes)?,
                None,
            ),
            TokenSource::Cookie(name) => (from_cookies(view, name, max_header_bytes)?, None),
            TokenSource::Query(name) => match from_query(view.path, name)? {
                Some((spelled, token)) => (Some(token), Some(spelled)),
                None => (None, None),
            },
        };
        if let Some(token) = token {
            return Ok(Some(Found {
                token,
                source: index,
                spelled,
            }));
        }
    }
    Ok(None)
}

fn too_large() -> TokenError {
    TokenError {
        miss: None,
        reason: DenyReason::TokenTooLarge,
        detail: "credential header is longer than limits.max_header_bytes",
    }
}

fn from_header<'a>(
    view: &RequestView<'a>,
    name: &str,
    prefix: Option<&str>,
    max: usize,
) -> Result<Option<&'a str>, TokenError> {
    let value = match view.header(name) {
        Ok(Some(v)) => v,
        Ok(None) => return Ok(None),
        Err(_) => return Err(malformed("credential header appears more than once")),
    };
    if value.len() > max {
        return Err(too_large());
    }
    let rest = match prefix {
        None => value,
        Some(p) => {
            let bytes = value.as_bytes();
            if bytes.len() < p.len() || !bytes[..p.len()].eq_ignore_ascii_case(p.as_bytes()) {
                // Another scheme (e.g. Basic): no bearer token in this source.
                return Ok(None);
            }
            &value[p.len()..]
        }
    };
    checked_token(rest.trim_matches(|c| c == ' ' || c == '\t')).map(Some)
}

/// Bytes a compact JWS can contain: the base64url alphabet and `.`.
const TOKEN_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b as u8, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.');
        b += 1;
    }
    t
};

/// True when all eight bytes of `x` are base64url or `.` (SWAR: each test sets a byte's high
/// bit exactly when that byte passes; no carry crosses bytes because all are below 0x80).
fn word_is_token(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if x & HIGH != 0 {
        return false;
    }
    let in_range = |x: u64, lo: u8, hi: u8| {
        x.wrapping_add(ONES * u64::from(0x80 - lo)) & !x.wrapping_add(ONES * u64::from(0x7F - hi))
    };
    let letter = in_range(x | (ONES * 0x20), b'a', b'z');
    let valid =
        letter | in_range(x, b'0', b'9') | in_range(x, b'-', b'.') | in_range(x, b'_', b'_');
    valid & HIGH == HIGH
}

/// One pass over the credential: only base64url and `.` are accepted.
fn checked_token(token: &str) -> Result<&str, TokenError> {
    if token.is_empty() {
        return Err(malformed("credential is empty"));
    }
    let bytes = token.as_bytes();
    let words = bytes.chunks_exact(8);
    let tail = words.remainder();
    let fast = words.into_iter().all(|w| {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        word_is_token(u64::from_le_bytes(word))
    });
    if fast && tail.iter().all(|&b| TOKEN_BYTE[usize::from(b)]) {
        return Ok(token);
    }
    // Something is wrong: find the first offending byte to say precisely what.
    match token.bytes().find(|&b| !TOKEN_BYTE[usize::from(b)]) {
        None => Ok(token),
        Some(b',') => Err(malformed(
            "several credentials in one header (repeated header?)",
        )),
        Some(b) if b.is_ascii_whitespace() => Err(malformed("credential contains whitespace")),
        Some(_) => Err(malformed(
            "credential contains characters outside base64url",
        )),
    }
}

fn from_cookies<'a>(
    view: &RequestView<'a>,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, TokenError> {
    let mut found = None;
    for header in view.header_values("cookie") {
        if header.len() > max {
            return Err(too_large());
        }
        for pair in header.split(';') {
            let Some((k, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if k.trim() != name {
                continue;
            }
            if found.is_some() {
                return Err(malformed("token cookie appears more than once"));
            }
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            found = Some(checked_token(v)?);
        }
    }
    Ok(found)
}

/// The token parameter: `(name as spelled, value)`. Names are compared after percent-decoding
/// (and `+` as a space, as form decoding reads it), because the upstream decodes them: a second
/// `%61t=` next to `at=` is a second token, not an unrelated parameter; so is `x=1;at=` to a
/// framework that splits on `;`. The value itself must be a plain token (an escape in it is
/// outside base64url).
fn from_query<'a>(path: &'a str, name: &str) -> Result<Option<(&'a str, &'a str)>, TokenError> {
    let Some((_, query)) = path.split_once('?') else {
        return Ok(None);
    };
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    let mut found = None;
    for pair in query.split('&') {
        // Some frameworks (Rack 2, Python before 3.9.2, Go before 1.17) also split on `;`: a
        // token parameter there would be a second one to them, and Envoy cannot remove it.
        if pair.contains(';')
            && pair
                .split(';')
                .skip(1)
                .any(|piece| param_name_is(piece.split_once('=').map_or(piece, |(k, _)| k), name))
        {
            return Err(malformed("token query parameter follows a ';'"));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if !param_name_is(k, name) {
            continue;
        }
        if found.is_some() {
            return Err(malformed("token query parameter appears more than once"));
        }
        found = Some((k, checked_token(v)?));
    }
    Ok(found)
}

/// True when the raw parameter name `raw` decodes to `name`.
fn param_name_is(raw: &str, name: &str) -> bool {
    if !raw.contains(['%', '+']) {
        return raw == name;
    }
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .is_ok_and(|decoded| decoded == name)
}

#[cfg(test)]
mod tests;
