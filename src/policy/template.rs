//! `match.path_template`: literal segments, `{name}` (exactly one non-empty segment, captured)
//! and a final `**` (the rest of the path, possibly empty), matched against the normalized path
//! (so captured segments are compared as normalized: unreserved escapes decoded, an encoded `/`
//! already refused). Matching allocates nothing: captures are byte ranges of the path.

/// Most captures one template may have.
pub const MAX_PARAMS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
    rest: bool,
    /// The capture names, in order.
    pub params: Vec<String>,
    /// The literal text before the first capture or `**` (for the rule head filter).
    pub literal_prefix: String,
}

/// The segments a template captured, as byte ranges of the matched path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    spans: [(u16, u16); MAX_PARAMS],
    len: u8,
}

impl Captures {
    /// The `i`th capture's text in `path` (the path the template matched).
    pub fn get<'p>(&self, path: &'p str, i: usize) -> Option<&'p str> {
        (i < self.len as usize).then(|| {
            let (a, b) = self.spans[i];
            &path[a as usize..b as usize]
        })
    }

    /// Number of captures.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn valid_param(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= 32
}

impl Template {
    /// Parses `text`; the literal segments must be what normalization leaves unchanged, which
    /// the caller checks on [`Template::literal_form`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(body) = text.strip_prefix('/') else {
            return Err(format!("{text:?} must start with /"));
        };
        if text.len() > 1024 {
            return Err("a template is at most 1024 bytes".into());
        }
        let parts: Vec<&str> = if body.is_empty() {
            Vec::new()
        } else {
            body.split('/').collect()
        };
        let mut t = Template {
            segments: Vec::new(),
            rest: false,
            params: Vec::new(),
            literal_prefix: String::from("/"),
        };
        let mut fixed = true;
        for (i, part) in parts.iter().enumerate() {
            if *part == "**" {
                if i + 1 != parts.len() {
                    return Err(format!("{text:?}: ** must be the last segment"));
                }
                t.rest = true;
                fixed = false;
            } else if let Some(name) = part
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .filter(|n| !n.contains(['{', '}']))
            {
                if !valid_param(name) {
                    return Err(format!(
                        "{text:?}: {{{name}}} is not a capture name (a letter or _, then letters, digits, _; at most 32)"
                    ));
                }
                if t.params.iter().any(|p| p == name) {
                    return Err(format!("{text:?}: {{{name}}} is captured twice"));
                }
                if t.params.len() == MAX_PARAMS {
                    return Err(format!("{text:?}: at most {MAX_PARAMS} captures"));
                }
                t.params.push(name.to_string());
                t.segments.push(Segment::Param);
                fixed = false;
            } else if part.contains(['{', '}', '*']) {
                return Err(format!(
                    "{text:?}: {part:?}: a capture ({{name}}) or ** must be a whole segment"
                ));
            } else if part.is_empty() && i + 1 != parts.len() {
                return Err(format!("{text:?} has an empty segment"));
            } else {
                if fixed {
                    t.literal_prefix.push_str(part);
                    if i + 1 != parts.len() {
                        t.literal_prefix.push('/');
                    }
                }
                t.segments.push(Segment::Literal(part.to_string()));
            }
        }
        Ok(t)
    }

    /// Lower-cases the literal segments (for `paths.case_insensitive`; capture names keep
    /// their case).
    pub fn lowercase_literals(&mut self) {
        for s in &mut self.segments {
            if let Segment::Literal(l) = s {
                l.make_ascii_lowercase();
            }
        }
        self.literal_prefix.make_ascii_lowercase();
    }

    /// The template with every capture replaced by `x` and `**` dropped: a path that must be
    /// normalized already (the literals are compared with normalized request paths).
    pub fn literal_form(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            out.push('/');
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Param => out.push('x'),
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }

    /// The captures when `path` (normalized) matches.
    pub fn matches(&self, path: &str) -> Option<Captures> {
        let mut caps = Captures::default();
        let mut at = 1; // after the leading '/'
        if !path.starts_with('/') || path.len() > u16::MAX as usize {
            return None;
        }
        for (i, segment) in self.segments.iter().enumerate() {
            if at > path.len() {
                return None;
            }
            let end = path[at..].find('/').map_or(path.len(), |j| at + j);
            let text = &path[at..end];
            match segment {
                Segment::Literal(l) => {
                    if text != l {
                        return None;
                    }
                }
                Segment::Param => {
                    if text.is_empty() {
                        return None;
                    }
                    caps.spans[caps.len as usize] = (at as u16, end as u16);
                    caps.len += 1;
                }
            }
            let last = i + 1 == self.segments.len();
            if last && !self.rest {
                return (end == path.len()).then_some(caps);
            }
            at = end + 1;
        }
        // Only `**` is left (or nothing, for "/"): it takes the rest, possibly empty.
        if self.segments.is_empty() && !self.rest {
            return (path == "/").then_some(caps);
        }
        Some(caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps<'p>(t: &str, path: &'p str) -> Option<Vec<&'p str>> {
        let t = Template::parse(t).unwrap();
        t.matches(path)
            .map(|c| (0..c.len()).map(|i| c.get(path, i).unwrap()).collect())
    }

    #[test]
    fn captures_whole_segments_and_the_rest() {
        let t = "/tenants/{tenant}/orders/**";
        assert_eq!(caps(t, "/tenants/acme/orders"), Some(vec!["acme"]));
        assert_eq!(caps(t, "/tenants/acme/orders/"), Some(vec!["acme"]));
        assert_eq!(caps(t, "/tenants/acme/orders/1/items"), Some(vec!["acme"]));
        assert_eq!(caps(t, "/tenants/acme/ordersx"), None);
        assert_eq!(
            caps(t, "/tenants//orders"),
            None,
            "a capture is never empty"
        );
        assert_eq!(caps(t, "/tenants/acme"), None);
        // Adjacent captures.
        assert_eq!(caps("/{a}/{b}", "/x/y"), Some(vec!["x", "y"]));
        assert_eq!(caps("/{a}/{b}", "/x/y/z"), None);
        assert_eq!(caps("/{a}/{b}", "/x"), None);
        assert_eq!(caps("/{a}/{b}", "/x/"), None);
        assert_eq!(caps("/a/{id}", "/a/%20x"), Some(vec!["%20x"]));
        assert_eq!(caps("/**", "/"), Some(vec![]));
        assert_eq!(caps("/**", "/anything/at/all"), Some(vec![]));
        assert_eq!(caps("/", "/"), Some(vec![]));
        assert_eq!(caps("/", "/a"), None);
        assert_eq!(caps("/a/", "/a/"), Some(vec![]));
        assert_eq!(caps("/a/", "/a"), None);
    }

    #[test]
    fn only_whole_segment_captures_and_a_final_star_star() {
        for bad in [
            "tenants/{t}",
            "/a/**/b",
            "/{a}{b}",
            "/x{a}",
            "/a*",
            "/{1a}",
            "/{a}/{a}",
            "/a//b",
            "/{}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("/api/v1/{a}/x/**").unwrap();
        assert_eq!(t.literal_prefix, "/api/v1/");
        assert_eq!(t.literal_form(), "/api/v1/x/x");
        assert_eq!(t.params, ["a"]);
        let nine = (0..9).map(|i| format!("/{{p{i}}}")).collect::<String>();
        assert!(Template::parse(&nine).is_err());
    }
}
