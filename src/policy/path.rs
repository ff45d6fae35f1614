//! Path normalization for rule matching. Envoy sends the request target as the client wrote it
//! (query included, percent-encoding kept, `//` unmerged unless the operator set
//! `merge_slashes`), while the upstream will decode and normalize it. Rules must match what
//! the upstream will see, so we: drop the query and fragment; decode percent-escapes of
//! unreserved characters (RFC 3986 §6.2.2.2, as Envoy's `normalize_path` does); merge `//`;
//! resolve `.` and `..`. An encoded `/` or `\`, a raw `\`, or a broken escape makes the path
//! ambiguous: the request is denied rather than guessed at.
//!
//! Two backend behaviours are configurable (`paths:`). Path parameters (`/admin;x=1`, and
//! `/docs/..;/admin`, which Tomcat and Jetty read as `/admin`): by default a `;` anywhere in the
//! path is ambiguous, and so is an encoded one (`%3B`: a backend that decodes before splitting
//! off parameters reads it as one); `parameters: strip` removes `;...` from each segment before
//! dot-segments are resolved, as those servers do (there `%3B` stays data, as Tomcat keeps it). Case: `case_insensitive: true` lower-cases the path (and
//! every rule's literal) for backends that route `/ADMIN` to `/admin`.

use std::borrow::Cow;

/// `paths.parameters`: what a `;` in a path segment means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parameters {
    /// A `;` makes the path ambiguous (400 `ambiguous_path`).
    #[default]
    Reject,
    /// `;...` is removed from each segment (Tomcat/Jetty path parameters).
    Strip,
}

/// `paths:`: how request paths are normalized before matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathOptions {
    /// Compare paths ASCII case-insensitively (the path is lower-cased).
    pub case_insensitive: bool,
    /// What a `;` in a segment means.
    pub parameters: Parameters,
}

/// Normalizes `raw`; `Err` carries the precise reason the path is ambiguous.
pub fn normalize<'a>(raw: &'a str, options: &PathOptions) -> Result<Cow<'a, str>, &'static str> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..end];
    if path.is_empty() {
        return Ok(Cow::Borrowed("/"));
    }
    if !path.starts_with('/') {
        return Err("path is not absolute");
    }
    let clean = !path.contains(['%', '\\', ';']) && !path.contains("//") && !path.contains("/.");
    let normalized = if clean {
        Cow::Borrowed(path)
    } else {
        if path.contains('\\') {
            return Err("path contains a backslash");
        }
        let without_parameters = match (path.contains(';'), options.parameters) {
            (_, Parameters::Reject) if has_encoded_semicolon(path) => {
                return Err("path has an encoded ';' (paths.parameters: reject)")
            }
            (false, _) => Cow::Borrowed(path),
            (true, Parameters::Reject) => {
                return Err("path has a ';' parameter (paths.parameters: reject)")
            }
            (true, Parameters::Strip) => Cow::Owned(strip_parameters(path)),
        };
        let decoded = decode_unreserved(&without_parameters)?;
        Cow::Owned(resolve_segments(&decoded))
    };
    if options.case_insensitive && normalized.bytes().any(|b| b.is_ascii_uppercase()) {
        return Ok(Cow::Owned(normalized.to_ascii_lowercase()));
    }
    Ok(normalized)
}

/// True when `path` has `%3B` (either case): a backend that decodes before splitting off
/// parameters reads it as one.
fn has_encoded_semicolon(path: &str) -> bool {
    path.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'3' && (w[2] | 0x20) == b'b')
}

/// Removes `;...` from every segment (`/a;x/b;y=1` → `/a/b`).
fn strip_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split_once(';').map_or(segment, |(kept, _)| kept));
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` of unreserved characters; keeps other escapes (upper-cased) encoded.
fn decode_unreserved(path: &str) -> Result<String, &'static str> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            let next = path[i..].find('%').map_or(path.len(), |n| i + n);
            out.push_str(&path[i..next]);
            i = next;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err("path has an invalid percent-escape");
        };
        let c = hi << 4 | lo;
        match c {
            b'/' | b'\\' => return Err("path contains an encoded / or \\"),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(c as char)
            }
            _ => {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(hi)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(lo)]));
            }
        }
        i += 3;
    }
    Ok(out)
}

/// Merges empty segments and resolves dot segments (RFC 3986 §5.2.4); keeps a trailing `/`.
fn resolve_segments(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    let mut trailing = false;
    for seg in path.split('/').skip(1) {
        trailing = false;
        match seg {
            "" => trailing = true,
            "." => trailing = true,
            ".." => {
                stack.pop();
                trailing = true;
            }
            s => stack.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in &stack {
        out.push('/');
        out.push_str(seg);
    }
    if trailing || stack.is_empty() {
        out.push('/');
    }
    out
}

/// True when `path` equals `prefix` or continues it at a segment boundary
/// (`/orders` matches `/orders` and `/orders/1`, not `/ordersX`).
pub(crate) fn has_segment_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: PathOptions = PathOptions {
        case_insensitive: false,
        parameters: Parameters::Reject,
    };

    #[test]
    fn normalizes_like_the_upstream_will() {
        for (raw, expected) in [
            ("/orders", "/orders"),
            ("/orders?x=1", "/orders"),
            ("/orders#f", "/orders"),
            ("", "/"),
            ("/", "/"),
            ("//orders", "/orders"),
            ("/a//b///c", "/a/b/c"),
            ("/a/../orders", "/orders"),
            ("/a/./orders", "/a/orders"),
            ("/../../orders", "/orders"),
            ("/orders/.", "/orders/"),
            ("/orders/..", "/"),
            ("/orders/", "/orders/"),
            ("/%6Frders", "/orders"),
            ("/%2e%2e/orders", "/orders"),
            ("/a/%2E%2E/orders", "/orders"),
            ("/x%20y", "/x%20y"),
            ("/x%3fy", "/x%3Fy"),
            ("/%7euser", "/~user"),
        ] {
            assert_eq!(normalize(raw, &DEFAULT).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn clean_paths_are_borrowed() {
        assert!(matches!(
            normalize("/orders/42?x=1", &DEFAULT),
            Ok(Cow::Borrowed("/orders/42"))
        ));
    }

    #[test]
    fn ambiguous_paths_are_errors() {
        for (raw, why) in [
            ("/orders%2Fx", "path contains an encoded / or \\"),
            ("/orders%2fx", "path contains an encoded / or \\"),
            ("/orders%5Cx", "path contains an encoded / or \\"),
            ("/orders%5cx", "path contains an encoded / or \\"),
            ("/orders\\x", "path contains a backslash"),
            ("/orders%zz", "path has an invalid percent-escape"),
            ("/orders%4", "path has an invalid percent-escape"),
            ("orders", "path is not absolute"),
            ("*", "path is not absolute"),
        ] {
            assert_eq!(normalize(raw, &DEFAULT), Err(why), "{raw}");
        }
        // The query is not part of the path: encoded slashes there are fine.
        assert_eq!(
            normalize("/orders?next=%2Fhome;x", &DEFAULT).as_deref(),
            Ok("/orders")
        );
    }

    #[test]
    fn path_parameters_are_rejected_or_stripped() {
        let strip = PathOptions {
            parameters: Parameters::Strip,
            ..DEFAULT
        };
        for raw in [
            "/docs/..;/admin",
            "/admin;x=1",
            "/a;/b",
            "/%2e%2e;/admin",
            "/;",
        ] {
            assert_eq!(
                normalize(raw, &DEFAULT),
                Err("path has a ';' parameter (paths.parameters: reject)"),
                "{raw}"
            );
        }
        for raw in ["/docs/..%3B/admin", "/admin%3bx=1", "/a/%3B"] {
            assert_eq!(
                normalize(raw, &DEFAULT),
                Err("path has an encoded ';' (paths.parameters: reject)"),
                "{raw}"
            );
        }
        assert_eq!(normalize("/a%3Ab", &DEFAULT).as_deref(), Ok("/a%3Ab"));
        for (raw, expected) in [
            ("/docs/..;/admin", "/admin"),
            ("/docs/%2e%2e;x=1/admin", "/admin"),
            ("/admin;x=1", "/admin"),
            ("/admin;jsessionid=1/users;v=2", "/admin/users"),
            ("/a;b;c/d", "/a/d"),
            ("/;x/a", "/a"),
            ("/a/%3Bx", "/a/%3Bx"),
        ] {
            assert_eq!(normalize(raw, &strip).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn case_insensitive_paths_are_lower_cased() {
        let ci = PathOptions {
            case_insensitive: true,
            ..DEFAULT
        };
        assert_eq!(
            normalize("/ADMIN/Users", &ci).as_deref(),
            Ok("/admin/users")
        );
        assert_eq!(normalize("/%41dmin", &ci).as_deref(), Ok("/admin"));
        assert_eq!(normalize("/x%3fy", &ci).as_deref(), Ok("/x%3fy"));
        assert!(matches!(normalize("/admin", &ci), Ok(Cow::Borrowed(_))));
        assert_eq!(normalize("/ADMIN", &DEFAULT).as_deref(), Ok("/ADMIN"));
    }

    #[test]
    fn segment_prefix() {
        assert!(has_segment_prefix("/orders", "/orders"));
        assert!(has_segment_prefix("/orders/1", "/orders"));
        assert!(has_segment_prefix("/orders/", "/orders"));
        assert!(!has_segment_prefix("/ordersX", "/orders"));
        assert!(!has_segment_prefix("/order", "/orders"));
        assert!(has_segment_prefix("/anything", "/"));
        assert!(has_segment_prefix("/api/v1/x", "/api/"));
        assert!(!has_segment_prefix("/api", "/api/"));
    }
}
