//! Dotted claim paths (`realm_access.roles`, `groups.0.name`) and how claim values are written
//! into headers. A segment walks into an object by key; on an array, a numeric segment picks an
//! element and any other segment applies to every element. `\.` is a literal dot, for
//! namespaced claims such as `https://example\.com/roles`.

use std::fmt;

use crate::jwt::{ClaimValue, ValueKind};

/// A parsed claim path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimPath {
    text: String,
    segments: Vec<String>,
}

impl ClaimPath {
    /// Parses `a.b.c`; `\.` escapes a dot and `\\` a backslash.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut segments = vec![String::new()];
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('.' | '\\')) => segments.last_mut().expect("non-empty").push(e),
                    _ => {
                        return Err(format!(
                            "claim path {text:?}: `\\` must be followed by `.` or `\\`"
                        ))
                    }
                },
                '.' => segments.push(String::new()),
                c => segments.last_mut().expect("non-empty").push(c),
            }
        }
        if segments.iter().any(String::is_empty) {
            return Err(format!("claim path {text:?} has an empty segment"));
        }
        Ok(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Calls `f` for every value the path reaches in `root` (nulls are skipped).
    pub fn visit<'c>(&self, root: ClaimValue<'c>, f: &mut impl FnMut(ClaimValue<'c>)) {
        visit(root, &self.segments, f);
    }

    /// True when the path reaches at least one value for which `pred` holds.
    pub fn any(&self, root: ClaimValue<'_>, mut pred: impl FnMut(ClaimValue<'_>) -> bool) -> bool {
        let mut hit = false;
        self.visit(root, &mut |v| hit = hit || pred(v));
        hit
    }

    /// Renders the reached values as one header value: a single value as is (strings
    /// unquoted, numbers as written, booleans as text, objects as compact JSON); several values
    /// (an array, or a path that reaches into one) joined with `,`, which is only unambiguous
    /// when every element is a string without `,`, a number or a boolean: `["user,admin"]` and
    /// `["user","admin"]` must not both arrive as `user,admin`. A value that cannot be
    /// forwarded faithfully is [`Rendered::Omitted`], and its header is removed.
    pub fn header_value(&self, root: ClaimValue<'_>, max_len: usize) -> Option<String> {
        let mut out = String::new();
        (self.write_header_value(root, max_len, &mut out) == Rendered::Value).then_some(out)
    }

    /// [`Self::header_value`] into a caller's buffer (cleared first), so one buffer serves
    /// every forwarded header of a Check.
    pub fn write_header_value(
        &self,
        root: ClaimValue<'_>,
        max_len: usize,
        out: &mut String,
    ) -> Rendered {
        out.clear();
        let mut values = 0usize;
        // An array element that cannot be joined; a directly reached value that cannot.
        let (mut bad_element, mut bad_value) = (false, false);
        self.visit(root, &mut |v| match v.kind() {
            ValueKind::Array => {
                for item in v.elements().filter(|i| !i.is_null()) {
                    bad_element |= !joinable(item);
                    push_item(out, &mut values, item);
                }
            }
            _ => {
                bad_value |= !joinable(v);
                push_item(out, &mut values, v);
            }
        });
        if values == 0 {
            return Rendered::Absent;
        }
        if bad_element || (values > 1 && bad_value) {
            return Rendered::Omitted(Omission::AmbiguousList);
        }
        if out.len() > max_len {
            return Rendered::Omitted(Omission::TooLong);
        }
        if out.chars().any(|c| c.is_control() && c != '\t') {
            return Rendered::Omitted(Omission::ControlCharacters);
        }
        Rendered::Value
    }
}

/// What rendering a claim as a header value gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendered {
    /// The value is in the buffer.
    Value,
    /// The claim is absent (or null): the header is removed.
    Absent,
    /// The claim is there but cannot be forwarded faithfully: the header is removed, and the
    /// omission is counted and logged.
    Omitted(Omission),
}

/// Why a present claim was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Omission {
    /// Several values, one of which is not a comma-free scalar: joined with `,` they would
    /// read as other values.
    AmbiguousList,
    /// Longer than `forward.max_value_bytes`.
    TooLong,
    /// Contains CR, LF, NUL or another control character.
    ControlCharacters,
}

impl Omission {
    /// Every omission, in index order.
    pub const ALL: [Omission; 3] = [
        Omission::AmbiguousList,
        Omission::TooLong,
        Omission::ControlCharacters,
    ];

    /// The metric label and log field.
    pub fn as_label(self) -> &'static str {
        match self {
            Omission::AmbiguousList => "ambiguous_list",
            Omission::TooLong => "too_long",
            Omission::ControlCharacters => "control_characters",
        }
    }
}

/// A value that can stand next to others in a `,`-joined list.
fn joinable(v: ClaimValue<'_>) -> bool {
    match v.kind() {
        ValueKind::String => v.as_str().is_some_and(|s| !s.contains(',')),
        ValueKind::Number | ValueKind::Bool => true,
        _ => false,
    }
}

fn push_item(out: &mut String, values: &mut usize, v: ClaimValue<'_>) {
    if *values > 0 {
        out.push(',');
    }
    *values += 1;
    match v.as_str() {
        Some(s) => out.push_str(&s),
        None => v.write_compact(out),
    }
}

fn visit<'c>(value: ClaimValue<'c>, segments: &[String], f: &mut impl FnMut(ClaimValue<'c>)) {
    let Some((head, rest)) = segments.split_first() else {
        if !value.is_null() {
            f(value);
        }
        return;
    };
    match value.kind() {
        ValueKind::Object => {
            if let Some(child) = value.get(head) {
                visit(child, rest, f);
            }
        }
        ValueKind::Array => match head.parse::<usize>() {
            Ok(i) => {
                if let Some(child) = value.elements().nth(i) {
                    visit(child, rest, f);
                }
            }
            Err(_) => {
                for item in value.elements() {
                    visit(item, segments, f);
                }
            }
        },
        _ => {}
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::Claims;
    use serde_json::json;

    fn claims() -> Claims {
        Claims::from_json(&claims_json()).unwrap()
    }

    fn claims_json() -> serde_json::Value {
        json!({
            "sub": "alice",
            "n": 42,
            "f": 1.5,
            "ok": true,
            "realm_access": {"roles": ["admin", "ops"]},
            "groups": [{"name": "a"}, {"name": "b"}, {"id": 3}],
            "https://example.com/tenant": "t1",
            "obj": {"x": 1, "y": [1, 2]},
            "nul": null,
            "evil": "a\r\nx-injected: 1",
            "comma": "a,b",
            "joined": ["user,admin"],
            "split": ["user", "admin"],
            "nested": [["a", "b"]],
            "objects": [{"a": 1}],
            "names": [{"n": "x,y"}, {"n": "z"}],
            "mixed": [1, true, "s"],
            "tab": "a\tb"
        })
    }

    fn header(path: &str) -> Option<String> {
        ClaimPath::parse(path)
            .unwrap()
            .header_value(claims().root(), 64)
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!(ClaimPath::parse("a.b").unwrap().segments, ["a", "b"]);
        assert_eq!(
            ClaimPath::parse(r"https://example\.com/x")
                .unwrap()
                .segments,
            ["https://example.com/x"]
        );
        assert_eq!(ClaimPath::parse(r"a\\b").unwrap().segments, [r"a\b"]);
        for bad in ["", "a.", ".a", "a..b", r"a\b"] {
            assert!(ClaimPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn renders_header_values() {
        assert_eq!(header("sub").as_deref(), Some("alice"));
        assert_eq!(header("n").as_deref(), Some("42"));
        assert_eq!(header("f").as_deref(), Some("1.5"));
        assert_eq!(header("ok").as_deref(), Some("true"));
        assert_eq!(header("realm_access.roles").as_deref(), Some("admin,ops"));
        assert_eq!(header("realm_access.roles.1").as_deref(), Some("ops"));
        assert_eq!(header("groups.name").as_deref(), Some("a,b"));
        assert_eq!(header("groups.0").as_deref(), Some(r#"{"name":"a"}"#));
        assert_eq!(
            header("comma").as_deref(),
            Some("a,b"),
            "one string is one value"
        );
        assert_eq!(
            header(r"https://example\.com/tenant").as_deref(),
            Some("t1")
        );
        assert_eq!(header("obj").as_deref(), Some(r#"{"x":1,"y":[1,2]}"#));
        assert_eq!(header("tab").as_deref(), Some("a\tb"));
    }

    #[test]
    fn lists_are_forwarded_only_when_unambiguous() {
        let c = claims();
        let render = |path: &str| {
            let mut out = String::new();
            let r = ClaimPath::parse(path)
                .unwrap()
                .write_header_value(c.root(), 64, &mut out);
            (r, out)
        };
        assert_eq!(render("split"), (Rendered::Value, "user,admin".into()));
        assert_eq!(render("mixed"), (Rendered::Value, "1,true,s".into()));
        for path in ["joined", "nested", "objects", "names.n", "groups"] {
            assert_eq!(
                render(path).0,
                Rendered::Omitted(Omission::AmbiguousList),
                "{path}"
            );
        }
        assert_eq!(render("missing").0, Rendered::Absent);
        assert_eq!(
            render("evil").0,
            Rendered::Omitted(Omission::ControlCharacters)
        );
        let mut out = String::new();
        assert_eq!(
            ClaimPath::parse("sub")
                .unwrap()
                .write_header_value(c.root(), 4, &mut out),
            Rendered::Omitted(Omission::TooLong)
        );
    }

    #[test]
    fn absent_unsafe_and_oversized_values_are_none() {
        for path in ["missing", "nul", "sub.deeper", "groups.9", "evil"] {
            assert_eq!(header(path), None, "{path}");
        }
        let p = ClaimPath::parse("sub").unwrap();
        assert_eq!(p.header_value(claims().root(), 4), None);
        assert_eq!(p.header_value(claims().root(), 5).as_deref(), Some("alice"));
        let nul = Claims::from_json(&json!({"sub": "a\0b"})).unwrap();
        assert_eq!(p.header_value(nul.root(), 64), None);
    }

    #[test]
    fn any_visits_every_reached_value() {
        let p = ClaimPath::parse("groups.name").unwrap();
        let c = claims();
        assert!(p.any(c.root(), |v| v.as_str().as_deref() == Some("b")));
        assert!(!p.any(c.root(), |v| v.as_str().as_deref() == Some("c")));
    }
}
