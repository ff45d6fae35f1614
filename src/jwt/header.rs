//! The JOSE header, parsed without allocation from a stack buffer: `alg` and `kid` are borrowed,
//! every member is checked for duplicates, and members that would let the token choose its own
//! key or processing rules are flagged for rejection (RFC 8725 §3.1, RFC 7515 §4.1.11).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// serde error text for a duplicate member.
const DUPLICATE: &str = "duplicate member";

/// Most members a header may have (real headers have 2-4).
const MAX_MEMBERS: usize = 16;

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

/// A string that borrows from the input when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut header = Header::default();
        let mut seen: [Option<Cow<'de, str>>; MAX_MEMBERS] = Default::default();
        let mut count = 0;
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            if seen[..count].iter().flatten().any(|k| *k == key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            if count == MAX_MEMBERS {
                return Err(de::Error::custom("too many header members"));
            }
            match key.as_ref() {
                "alg" => header.alg = Some(map.next_value::<Str<'de>>()?.0),
                "kid" => header.kid = Some(map.next_value::<Str<'de>>()?.0),
                other => {
                    map.next_value::<IgnoredAny>()?;
                    let why = match other {
                        "crit" => Some("crit header parameter is not supported"),
                        "jku" | "x5u" | "jwk" | "x5c" => {
                            Some("header names its own key (jku/x5u/jwk/x5c); keys come only from configuration")
                        }
                        "enc" | "zip" => Some("encrypted tokens (JWE) are not accepted"),
                        "b64" => Some("unencoded payloads (b64) are not supported"),
                        _ => None,
                    };
                    header.forbidden = header.forbidden.or(why);
                }
            }
            seen[count] = Some(key);
            count += 1;
        }
        Ok(header)
    }
}

/// Parses a decoded header.
pub fn parse(bytes: &[u8]) -> Result<Header<'_>, &'static str> {
    serde_json::from_slice::<Header<'_>>(bytes).map_err(|e| {
        let text = e.to_string();
        if text.starts_with(DUPLICATE) {
            "duplicate member in header"
        } else if text.starts_with("too many") {
            "too many header members"
        } else if e.is_data()
            && (text.contains("alg") || text.contains("kid") || text.contains("string"))
        {
            "alg and kid must be strings"
        } else {
            "header is not a JSON object"
        }
    })
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
