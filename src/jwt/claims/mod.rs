//! The verified claims, parsed once into a flat tape over the payload text: no allocation per
//! member or string, no tree to free. The parser is strict (RFC 8259 grammar, UTF-8, no
//! duplicate members at any level, bounded depth) so every reader of the token sees the same
//! claims. Values are read through [`Value`], a cheap handle into the tape.

mod parse;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use parse::{unescape, Parser};

/// Why a payload is not acceptable claims JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimsError {
    /// Not UTF-8, not JSON, or not an object.
    Invalid,
    /// An object has the same member twice.
    Duplicate,
    /// Nested deeper than allowed.
    TooDeep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    Str,
    EscapedStr,
    Number,
    True,
    False,
    Null,
}

/// One value of the tape. Strings span their contents (quotes excluded). Containers' children
/// follow them; `next` is the index just past the node's subtree.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    kind: Kind,
    start: u32,
    end: u32,
    next: u32,
}

/// Parsed claims: the payload text and its tape. Node 0 is the top-level object.
#[derive(Clone)]
pub struct Claims {
    text: String,
    nodes: Vec<Node>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Claims({} members)", self.root().members().count())
    }
}

impl Claims {
    /// Parses a payload: a JSON object, at most `max_depth` nested containers deep (the
    /// top-level object counts as one).
    pub fn parse(bytes: Vec<u8>, max_depth: usize) -> Result<Self, ClaimsError> {
        let text = String::from_utf8(bytes).map_err(|_| ClaimsError::Invalid)?;
        let nodes = Parser::run(text.as_bytes(), max_depth)?;
        Ok(Self { text, nodes })
    }

    /// Parses JSON text (tests and tools).
    pub fn from_json(json: &serde_json::Value) -> Result<Self, ClaimsError> {
        Self::parse(json.to_string().into_bytes(), 64)
    }

    /// The top-level object.
    pub fn root(&self) -> Value<'_> {
        Value { c: self, i: 0 }
    }

    /// A top-level claim.
    pub fn get(&self, name: &str) -> Option<Value<'_>> {
        self.root().get(name)
    }

    /// A top-level string claim.
    pub fn get_str(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).and_then(|v| v.as_str())
    }
}

/// The top-level members of a JSON object parsed as strictly as claims are (grammar, UTF-8,
/// duplicates at any level, depth), as (key, the value if it is a string). For the JOSE header,
/// whose members jwt-authz reads are all strings.
pub(crate) struct Members<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    i: usize,
}

impl<'a> Members<'a> {
    /// Parses `text`, at most `max_depth` containers deep.
    pub(crate) fn parse(text: &'a str, max_depth: usize) -> Result<Self, ClaimsError> {
        let nodes = Parser::run(text.as_bytes(), max_depth)?;
        Ok(Self { text, nodes, i: 1 })
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, Option<Cow<'a, str>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.i >= self.nodes[0].next as usize {
            return None;
        }
        let key = self.i as u32;
        self.i = next_sibling(&self.nodes, key, Kind::Object) as usize;
        Some((
            string(self.text, self.nodes[key as usize]).unwrap_or_default(),
            string(self.text, self.nodes[key as usize + 1]),
        ))
    }
}

/// A string node's contents (borrowed unless it has escapes); `None` for other kinds.
fn string(text: &str, n: Node) -> Option<Cow<'_, str>> {
    let raw = &text[n.start as usize..n.end as usize];
    matches!(n.kind, Kind::Str | Kind::EscapedStr).then(|| unescape(raw, n.kind))
}

/// The child after child `i` of a container of `kind`: objects' children are key, value pairs.
fn next_sibling(nodes: &[Node], i: u32, kind: Kind) -> u32 {
    let last = if kind == Kind::Object { i + 1 } else { i };
    nodes[last as usize].next
}

/// Indices of the children of node `at` when it is a `kind` container (for objects, each
/// key's; its value follows it); nothing otherwise.
fn children(nodes: &[Node], at: u32, kind: Kind) -> impl Iterator<Item = u32> + '_ {
    let n = nodes[at as usize];
    let mut i = if n.kind == kind { at + 1 } else { n.next };
    std::iter::from_fn(move || {
        (i < n.next).then(|| {
            let child = i;
            i = next_sibling(nodes, child, kind);
            child
        })
    })
}

/// A handle on one value of the claims.
#[derive(Clone, Copy)]
pub struct Value<'c> {
    c: &'c Claims,
    i: u32,
}

/// The JSON type of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `{...}`
    Object,
    /// `[...]`
    Array,
    /// `"..."`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

impl<'c> Value<'c> {
    fn node(&self) -> Node {
        self.c.nodes[self.i as usize]
    }

    /// The value's JSON type.
    pub fn kind(&self) -> ValueKind {
        match self.node().kind {
            Kind::Object => ValueKind::Object,
            Kind::Array => ValueKind::Array,
            Kind::Str | Kind::EscapedStr => ValueKind::String,
            Kind::Number => ValueKind::Number,
            Kind::True | Kind::False => ValueKind::Bool,
            Kind::Null => ValueKind::Null,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        self.node().kind == Kind::Null
    }

    /// The JSON text of this value as written (for strings: without quotes, escapes kept).
    pub fn raw(&self) -> &'c str {
        let n = self.node();
        &self.c.text[n.start as usize..n.end as usize]
    }

    /// The string's contents (borrowed unless it has escapes).
    pub fn as_str(&self) -> Option<Cow<'c, str>> {
        string(&self.c.text, self.node())
    }

    /// A number as f64 (integers take a fast path: NumericDates usually are integers).
    pub fn as_f64(&self) -> Option<f64> {
        if self.node().kind != Kind::Number {
            return None;
        }
        let raw = self.raw();
        let digits = raw.strip_prefix('-').unwrap_or(raw);
        if digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
            // Exact: fifteen digits fit in f64's 53-bit mantissa.
            let n = digits
                .bytes()
                .fold(0u64, |n, b| n * 10 + u64::from(b - b'0')) as f64;
            return Some(if digits.len() < raw.len() { -n } else { n });
        }
        raw.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    /// An integral number as i64.
    pub fn as_i64(&self) -> Option<i64> {
        (self.node().kind == Kind::Number)
            .then(|| self.raw().parse::<i64>().ok())
            .flatten()
    }

    /// `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.node().kind {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }

    /// Elements of an array (nothing for other kinds).
    pub fn elements(&self) -> impl Iterator<Item = Value<'c>> + 'c {
        let c = self.c;
        children(&c.nodes, self.i, Kind::Array).map(move |i| Value { c, i })
    }

    /// Members of an object as (key, value) (nothing for other kinds).
    pub fn members(&self) -> impl Iterator<Item = (Cow<'c, str>, Value<'c>)> + 'c {
        let c = self.c;
        children(&c.nodes, self.i, Kind::Object).map(move |i| {
            let key = Value { c, i }.as_str().unwrap_or_default();
            (key, Value { c, i: i + 1 })
        })
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<Value<'c>> {
        let c = self.c;
        children(&c.nodes, self.i, Kind::Object)
            .find(|&i| {
                let key = c.nodes[i as usize];
                match key.kind {
                    // Unescaped keys compare as raw bytes: no decoding, no allocation.
                    Kind::Str => &c.text[key.start as usize..key.end as usize] == name,
                    _ => string(&c.text, key).is_some_and(|k| k == name),
                }
            })
            .map(|i| Value { c, i: i + 1 })
    }

    /// Writes the value as compact JSON.
    pub fn write_compact(&self, out: &mut String) {
        match self.node().kind {
            Kind::Object => {
                out.push('{');
                for (n, (k, v)) in self.members().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.into_owned()).to_string());
                    out.push(':');
                    v.write_compact(out);
                }
                out.push('}');
            }
            Kind::Array => {
                out.push('[');
                for (n, v) in self.elements().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    v.write_compact(out);
                }
                out.push(']');
            }
            Kind::Str | Kind::EscapedStr => {
                out.push('"');
                out.push_str(self.raw());
                out.push('"');
            }
            _ => out.push_str(self.raw()),
        }
    }

    /// Converts to a `serde_json::Value` (for tools and tests; not on the hot path). An error
    /// would mean the compact writer and the parser disagree: it is reported, never hidden.
    pub fn to_json(&self) -> Result<serde_json::Value, ClaimsError> {
        let mut text = String::new();
        self.write_compact(&mut text);
        serde_json::from_str(&text).map_err(|_| ClaimsError::Invalid)
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind())
    }
}
