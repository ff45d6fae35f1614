//! Path normalization for rule matching. Envoy sends the request target as the client wrote it
//! (query included, percent-encoding kept, `//` unmerged unless the operator set
//! `merge_slashes`), while the upstream will decode and normalize it. Rules must match what
//! the upstream will see, so we: drop the query and fragment; decode percent-escapes of
//! unreserved characters (RFC 3986 §6.2.2.2, as Envoy's `normalize_path` does); merge `//`;
//! resolve `.` and `..`. An encoded `/` or `\`, a raw `\`, or a broken escape makes the path
//! ambiguous: the request is denied rather than guessed at.

use std::borrow::Cow;

/// Normalizes `raw`; `Err` carries the precise reason the path is ambiguous.
pub fn normalize(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..end];
    if path.is_empty() {
        return Ok(Cow::Borrowed("/"));
    }
    if !path.starts_with('/') {
        return Err("path is not absolute");
    }
    let clean = !path.contains(['%', '\\']) && !path.contains("//") && !path.contains("/.");
    if clean {
        return Ok(Cow::Borrowed(path));
    }
    if path.contains('\\') {
        return Err("path contains a backslash");
    }
    let decoded = decode_unreserved(path)?;
    Ok(Cow::Owned(resolve_segments(&decoded)))
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
pub fn has_segment_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => prefix.ends_with('/') || rest.starts_with('/'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(normalize(raw).as_deref(), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn clean_paths_are_borrowed() {
        assert!(matches!(
            normalize("/orders/42?x=1"),
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
            assert_eq!(normalize(raw), Err(why), "{raw}");
        }
        // The query is not part of the path: encoded slashes there are fine.
        assert_eq!(normalize("/orders?next=%2Fhome").as_deref(), Ok("/orders"));
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
