//! Strict JSON for token parts: duplicate object members are an error at every level (RFC 7515
//! §4 and RFC 7519 §4 allow rejecting them; serde_json's `Value` would silently keep the last,
//! letting `{"sub":"a","sub":"admin"}` mean different things to different parsers), and the
//! nesting depth is bounded.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Error text for a duplicate member (matched by the caller to pick a precise detail).
pub const DUPLICATE: &str = "duplicate member";
/// Error text for excessive nesting.
pub const TOO_DEEP: &str = "nesting too deep";

/// Parses `bytes` as a JSON object with no duplicate members and at most `max_depth` nested
/// containers (the top-level object counts as one).
pub fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { depth: max_depth }.deserialize(&mut de)?;
    de.end()?;
    if !value.is_object() {
        return Err(de::Error::custom("not a JSON object"));
    }
    Ok(value)
}

/// A seed that builds a `Value`, counting down the allowed depth.
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict {
    /// Entering a container uses one level.
    fn child<E: de::Error>(&self) -> Result<Strict, E> {
        match self.depth.checked_sub(1) {
            Some(depth) => Ok(Strict { depth }),
            None => Err(E::custom(TOO_DEEP)),
        }
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict { depth: child.depth })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let value = map.next_value_seed(Strict { depth: child.depth })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_objects() {
        let v = parse_object(br#"{"a":{"b":[1,2.5,"x",null,true]}}"#, 8).unwrap();
        assert_eq!(v["a"]["b"][1], 2.5);
    }

    #[test]
    fn rejects_duplicates_at_any_level() {
        for text in [
            r#"{"sub":"a","sub":"admin"}"#,
            r#"{"x":{"r":1,"r":2}}"#,
            r#"{"x":[{"r":1,"r":2}]}"#,
            r#"{"s\u0075b":"a","sub":"b"}"#,
        ] {
            let err = parse_object(text.as_bytes(), 8).unwrap_err();
            assert!(err.to_string().starts_with(DUPLICATE), "{text}: {err}");
        }
    }

    #[test]
    fn bounds_depth() {
        assert!(parse_object(br#"{"a":{"b":{"c":1}}}"#, 3).is_ok());
        let err = parse_object(br#"{"a":{"b":{"c":{}}}}"#, 3).unwrap_err();
        assert!(err.to_string().starts_with(TOO_DEEP), "{err}");
        let err = parse_object(br#"{"a":[[[1]]]}"#, 3).unwrap_err();
        assert!(err.to_string().starts_with(TOO_DEEP), "{err}");
    }

    #[test]
    fn rejects_non_objects_and_trailing_data() {
        for text in ["[]", "1", "\"s\"", "{} {}", "{", ""] {
            assert!(parse_object(text.as_bytes(), 8).is_err(), "{text}");
        }
    }
}
