//! The JOSE header, parsed from a stack buffer by the strict claims parser: `alg` and `kid` are
//! borrowed, every member is checked for duplicates (at any level), and members that would let the token choose its own
//! key or processing rules are flagged for rejection (RFC 8725 §3.1, RFC 7515 §4.1.11).

use std::borrow::Cow;

use super::claims::{ClaimsError, Members};

/// Most members a header may have (real headers have 2-4).
const MAX_MEMBERS: usize = 16;

/// Deepest nesting accepted in a header (real ones are flat; `jwk` is one level).
const MAX_DEPTH: usize = 8;

/// The parts of the header jwt-authz acts on.
#[derive(Debug, Default)]
pub struct Header<'a> {
    /// The `alg` member.
    pub alg: Option<Cow<'a, str>>,
    /// The `kid` member.
    pub kid: Option<Cow<'a, str>>,
    /// Why the header must be rejected even if its signature verifies.
    pub forbidden: Option<&'static str>,
}

/// Parses a decoded header with the strict claims parser.
pub fn parse(bytes: &[u8]) -> Result<Header<'_>, &'static str> {
    let not_object = "header is not a JSON object";
    let text = std::str::from_utf8(bytes).map_err(|_| not_object)?;
    let members = Members::parse(text, MAX_DEPTH).map_err(|e| match e {
        ClaimsError::Duplicate => "duplicate member in header",
        ClaimsError::TooDeep => "header is nested too deeply",
        ClaimsError::Invalid => not_object,
    })?;
    let mut header = Header::default();
    for (count, (key, value)) in members.enumerate() {
        if count == MAX_MEMBERS {
            return Err("too many header members");
        }
        let not_string = "alg and kid must be strings";
        match &*key {
            "alg" => header.alg = Some(value.ok_or(not_string)?),
            "kid" => header.kid = Some(value.ok_or(not_string)?),
            other => {
                let why = match other {
                    "crit" => Some("crit header parameter is not supported"),
                    "jku" | "x5u" | "jwk" | "x5c" => Some(
                        "header names its own key (jku/x5u/jwk/x5c); keys come only from configuration",
                    ),
                    "enc" | "zip" => Some("encrypted tokens (JWE) are not accepted"),
                    "b64" => Some("unencoded payloads (b64) are not supported"),
                    _ => None,
                };
                header.forbidden = header.forbidden.or(why);
            }
        }
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_alg_and_kid() {
        let h = parse(br#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#).unwrap();
        assert!(matches!(h.alg, Some(Cow::Borrowed("HS256"))));
        assert!(matches!(h.kid, Some(Cow::Borrowed("k1"))));
        assert!(h.forbidden.is_none());
        let h = parse(br#"{"alg":"HS256","kid":"k\u0031"}"#).unwrap();
        assert_eq!(h.kid.as_deref(), Some("k1"));
    }

    #[test]
    fn flags_dangerous_members() {
        for (text, expected) in [
            (r#"{"alg":"HS256","crit":["exp"]}"#, "crit"),
            (r#"{"alg":"HS256","jku":"https://evil"}"#, "jku"),
            (r#"{"alg":"HS256","jwk":{"kty":"oct","k":"AA"}}"#, "jku"),
            (r#"{"alg":"HS256","x5u":"https://evil"}"#, "jku"),
            (r#"{"alg":"HS256","x5c":["AA"]}"#, "jku"),
            (r#"{"alg":"dir","enc":"A128GCM"}"#, "JWE"),
            (r#"{"alg":"HS256","b64":false}"#, "b64"),
        ] {
            let h = parse(text.as_bytes()).unwrap();
            assert!(h.forbidden.unwrap().contains(expected), "{text}");
        }
    }

    #[test]
    fn rejects_duplicates_and_bad_shapes() {
        assert_eq!(
            parse(br#"{"alg":"none","alg":"HS256"}"#).unwrap_err(),
            "duplicate member in header"
        );
        assert_eq!(
            parse(br#"{"kid":"a","k\u0069d":"b"}"#).unwrap_err(),
            "duplicate member in header"
        );
        assert_eq!(
            parse(br#"{"alg":256}"#).unwrap_err(),
            "alg and kid must be strings"
        );
        assert_eq!(
            parse(br#"{"alg":"HS256","jwk":{"k":"a","k":"b"}}"#).unwrap_err(),
            "duplicate member in header"
        );
        assert_eq!(
            parse(br#"{"alg":"HS256","x":[[[[[[[[1]]]]]]]]}"#).unwrap_err(),
            "header is nested too deeply"
        );
        assert!(parse(br#"{"alg":"HS256","x":[[[[[[1]]]]]]}"#).is_ok());
        assert_eq!(
            parse(b"{\"alg\":\"HS\xff\"}").unwrap_err(),
            "header is not a JSON object"
        );
        assert_eq!(parse(b"[]").unwrap_err(), "header is not a JSON object");
        assert_eq!(parse(b"{").unwrap_err(), "header is not a JSON object");
        let many: String = (0..17).map(|i| format!("\"m{i}\":1,")).collect();
        let text = format!("{{{}\"alg\":\"HS256\"}}", many);
        assert_eq!(
            parse(text.as_bytes()).unwrap_err(),
            "too many header members"
        );
    }
}
