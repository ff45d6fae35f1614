//! The strict claims parser: builds the tape in one pass over the payload.

use std::borrow::Cow;

use super::{ClaimsError, Kind, Node};

pub(super) struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    nodes: Vec<Node>,
    max_depth: usize,
}

impl Parser<'_> {
    /// Parses a whole payload (a JSON object) into its tape.
    pub(super) fn run(s: &[u8], max_depth: usize) -> Result<Vec<Node>, ClaimsError> {
        // Offsets are u32 (and a container's `end` is set past its last byte).
        if s.len() > u32::MAX as usize / 2 {
            return Err(ClaimsError::Invalid);
        }
        let mut p = Parser {
            s,
            i: 0,
            nodes: Vec::with_capacity(s.len() / 8 + 4),
            max_depth,
        };
        p.ws();
        if p.peek() != Some(b'{') {
            return Err(ClaimsError::Invalid);
        }
        p.value(1)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(ClaimsError::Invalid);
        }
        Ok(p.nodes)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn push(&mut self, kind: Kind, start: usize, end: usize) -> usize {
        self.nodes.push(Node {
            kind,
            start: start as u32,
            end: end as u32,
            next: 0,
        });
        self.nodes.len() - 1
    }

    fn finish(&mut self, node: usize) {
        self.nodes[node].next = self.nodes.len() as u32;
    }

    fn value(&mut self, depth: usize) -> Result<(), ClaimsError> {
        let start = self.i;
        match self.peek().ok_or(ClaimsError::Invalid)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true", Kind::True),
            b'f' => self.literal(b"false", Kind::False),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => {
                self.number()?;
                let n = self.push(Kind::Number, start, self.i);
                self.finish(n);
                Ok(())
            }
            _ => Err(ClaimsError::Invalid),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<(), ClaimsError> {
        if !self.s[self.i..].starts_with(word) {
            return Err(ClaimsError::Invalid);
        }
        let n = self.push(kind, self.i, self.i + word.len());
        self.i += word.len();
        self.finish(n);
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - from
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, and finite as an f64 (serde_json and
    /// most upstream parsers reject numbers that overflow; so do we).
    fn number(&mut self) -> Result<(), ClaimsError> {
        let start = self.i;
        self.number_syntax()?;
        let text = &self.s[start..self.i];
        // Only an exponent or a very long integer part can overflow: parse just those.
        if text.len() > 300 || text.iter().any(|&b| b == b'e' || b == b'E') {
            let finite = std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_finite);
            if !finite {
                return Err(ClaimsError::Invalid);
            }
        }
        Ok(())
    }

    fn number_syntax(&mut self) -> Result<(), ClaimsError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(ClaimsError::Invalid),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(ClaimsError::Invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(ClaimsError::Invalid);
            }
        }
        Ok(())
    }

    /// A string; returns its node index.
    fn string(&mut self) -> Result<usize, ClaimsError> {
        self.i += 1; // opening quote
        let start = self.i;
        let mut escaped = false;
        loop {
            self.i = plain_end(self.s, self.i).ok_or(ClaimsError::Invalid)?;
            match self.s[self.i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek().ok_or(ClaimsError::Invalid)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => self.unicode_escape()?,
                        _ => return Err(ClaimsError::Invalid),
                    }
                }
                _ => return Err(ClaimsError::Invalid),
            }
        }
        let kind = if escaped {
            // The escapes were checked above; serde_json, which decodes them when the string
            // is read, must agree now, so that reading can never fail later.
            decode_escapes(&self.s[start..self.i]).ok_or(ClaimsError::Invalid)?;
            Kind::EscapedStr
        } else {
            Kind::Str
        };
        let n = self.push(kind, start, self.i);
        self.i += 1; // closing quote
        self.finish(n);
        Ok(n)
    }

    /// `\uXXXX`, with surrogates only as a valid high-low pair.
    fn unicode_escape(&mut self) -> Result<(), ClaimsError> {
        let unit = |p: &Self, at: usize| -> Result<u16, ClaimsError> {
            let hex = p.s.get(at..at + 4).ok_or(ClaimsError::Invalid)?;
            // Exactly four hex digits: `from_str_radix` alone would also take a `+` sign.
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(ClaimsError::Invalid);
            }
            let text = std::str::from_utf8(hex).map_err(|_| ClaimsError::Invalid)?;
            u16::from_str_radix(text, 16).map_err(|_| ClaimsError::Invalid)
        };
        let u = unit(self, self.i + 1)?;
        self.i += 5;
        match u {
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(ClaimsError::Invalid);
                }
                if !(0xDC00..=0xDFFF).contains(&unit(self, self.i + 2)?) {
                    return Err(ClaimsError::Invalid);
                }
                self.i += 6;
                Ok(())
            }
            0xDC00..=0xDFFF => Err(ClaimsError::Invalid),
            _ => Ok(()),
        }
    }

    /// An object or array: `open`, items separated by `,`, `close`. `item` parses one member
    /// or element; it gets the container's node index.
    fn container(
        &mut self,
        depth: usize,
        kind: Kind,
        close: u8,
        mut item: impl FnMut(&mut Self, usize) -> Result<(), ClaimsError>,
    ) -> Result<(), ClaimsError> {
        if depth > self.max_depth {
            return Err(ClaimsError::TooDeep);
        }
        let node = self.push(kind, self.i, self.i);
        self.i += 1;
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
        } else {
            loop {
                self.ws();
                item(self, node)?;
                if self.end_of_item(close)? {
                    break;
                }
            }
        }
        self.nodes[node].end = self.i as u32;
        self.finish(node);
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), ClaimsError> {
        self.container(depth, Kind::Object, b'}', |p, node| p.member(node, depth))
    }

    fn array(&mut self, depth: usize) -> Result<(), ClaimsError> {
        self.container(depth, Kind::Array, b']', |p, _| p.value(depth + 1))
    }

    /// `"key": value` of the object at `node`; a key equal to an earlier one is a duplicate.
    fn member(&mut self, node: usize, depth: usize) -> Result<(), ClaimsError> {
        if self.peek() != Some(b'"') {
            return Err(ClaimsError::Invalid);
        }
        let key = self.string()?;
        // The earlier keys of this object are on the tape: key, value subtree, key...
        let mut k = node + 1;
        while k < key {
            if key_eq(self.s, &self.nodes[k], &self.nodes[key]) {
                return Err(ClaimsError::Duplicate);
            }
            k = self.nodes[k + 1].next as usize;
        }
        self.ws();
        if self.peek() != Some(b':') {
            return Err(ClaimsError::Invalid);
        }
        self.i += 1;
        self.ws();
        self.value(depth + 1)
    }

    /// After a member or element: `,` continues (`Ok(false)`), `close` ends (`Ok(true)`).
    fn end_of_item(&mut self, close: u8) -> Result<bool, ClaimsError> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.i += 1;
                Ok(true)
            }
            _ => Err(ClaimsError::Invalid),
        }
    }
}

/// Index of the first `"`, `\\` or control character at or after `from`, eight bytes at a
/// time (SWAR: a byte's high bit in the mask marks a match; the lowest marked byte is exact).
fn plain_end(s: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = zero_byte(x ^ (ONES * u64::from(b'"')))
            | zero_byte(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if hits != 0 {
            return Some(i + hits.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
}

/// Compares two string nodes by their decoded contents.
fn key_eq(s: &[u8], a: &Node, b: &Node) -> bool {
    let raw = |n: &Node| &s[n.start as usize..n.end as usize];
    if a.kind == Kind::Str && b.kind == Kind::Str {
        // Keys are short: a byte loop beats a call to memcmp, and most differ at the first.
        return a.end - a.start == b.end - b.start
            && raw(a).iter().zip(raw(b)).all(|(x, y)| x == y);
    }
    let text = |n: &Node| {
        std::str::from_utf8(raw(n))
            .ok()
            .map(|t| unescape(t, n.kind))
    };
    text(a) == text(b)
}

/// A string's contents: borrowed when it has no escapes, decoded otherwise.
#[inline]
pub(super) fn unescape(raw: &str, kind: Kind) -> Cow<'_, str> {
    if kind == Kind::Str {
        return Cow::Borrowed(raw);
    }
    Cow::Owned(
        decode_escapes(raw.as_bytes())
            .expect("the same escapes were decoded when the string was parsed"),
    )
}

/// Decodes a string's JSON escapes with serde_json (`None` when it refuses them).
#[cold]
fn decode_escapes(raw: &[u8]) -> Option<String> {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted).ok()
}
