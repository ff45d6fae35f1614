use super::*;

fn parse(text: &str) -> Result<Claims, ClaimsError> {
    Claims::parse(text.as_bytes().to_vec(), 8)
}

#[test]
fn reads_nested_values_without_copying() {
    let c = parse(
        r#" {"a": {"b": [1, 2.5, "x", null, true, false]}, "s": "plain", "e": "t\u00e9\n"} "#,
    )
    .unwrap();
    let b: Vec<Value<'_>> = c.get("a").unwrap().get("b").unwrap().elements().collect();
    assert_eq!(b.len(), 6);
    assert_eq!(b[0].as_i64(), Some(1));
    assert_eq!(b[1].as_f64(), Some(2.5));
    assert_eq!(b[1].as_i64(), None);
    assert_eq!(b[2].as_str().as_deref(), Some("x"));
    assert!(b[3].is_null());
    assert_eq!((b[4].as_bool(), b[5].as_bool()), (Some(true), Some(false)));
    assert!(matches!(c.get_str("s"), Some(Cow::Borrowed("plain"))));
    assert_eq!(c.get_str("e").as_deref(), Some("t\u{e9}\n"));
    assert!(c.get("missing").is_none());
    assert_eq!(
        c.root()
            .members()
            .map(|(k, _)| k.into_owned())
            .collect::<Vec<_>>(),
        ["a", "s", "e"]
    );
}

#[test]
fn rejects_duplicates_at_any_level_including_escaped_spellings() {
    for text in [
        r#"{"sub":"a","sub":"admin"}"#,
        r#"{"x":{"r":1,"r":2}}"#,
        r#"{"x":[{"r":1,"r":2}]}"#,
        r#"{"s\u0075b":"a","sub":"b"}"#,
        r#"{"sub":"a","s\u0075b":"b"}"#,
    ] {
        assert_eq!(parse(text).unwrap_err(), ClaimsError::Duplicate, "{text}");
    }
    assert!(
        parse(r#"{"a":{"r":1},"b":{"r":2}}"#).is_ok(),
        "same key in sibling objects"
    );
}

#[test]
fn bounds_depth() {
    let c = Claims::parse(br#"{"a":{"b":{"c":1}}}"#.to_vec(), 3);
    assert!(c.is_ok());
    assert_eq!(
        Claims::parse(br#"{"a":{"b":{"c":{}}}}"#.to_vec(), 3).unwrap_err(),
        ClaimsError::TooDeep
    );
    assert_eq!(
        Claims::parse(br#"{"a":[[[1]]]}"#.to_vec(), 3).unwrap_err(),
        ClaimsError::TooDeep
    );
}

#[test]
fn rejects_everything_that_is_not_strict_json_object() {
    for text in [
        "",
        "[]",
        "1",
        "\"s\"",
        "{} {}",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"x\u{1}\"}",
        "{'a':1}",
        "{a:1}",
        "{\"a\":[1,]}",
        "{\"a\":[,1]}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "\u{feff}{}",
    ] {
        assert_eq!(parse(text).unwrap_err(), ClaimsError::Invalid, "{text:?}");
    }
    assert_eq!(
        Claims::parse(vec![b'{', b'"', 0xff, b'"', b':', b'1', b'}'], 8).unwrap_err(),
        ClaimsError::Invalid
    );
    assert!(
        parse("{\"a\":\"\\ud83d\\ude00\"}").is_ok(),
        "a valid surrogate pair"
    );
}

#[test]
fn agrees_with_serde_json_on_valid_documents() {
    let docs = [
        r#"{}"#,
        r#"{"iss":"https://idp","aud":["a","b"],"exp":1800000000,"nbf":1.5e9,"n":-0.25,"big":12345678901234567890}"#,
        r#"{"nested":{"deep":{"list":[{"x":[]},{"y":{}}]}},"t":true,"f":false,"z":null}"#,
        r#"{"esc":"quote \" backslash \\ slash \/ \b\f\n\r\t \u0041 \ud83d\ude00","k\u00e9y":"v"}"#,
        "{ \"spaced\" :\t[ 1 ,\n2 ] }",
    ];
    for doc in docs {
        let ours = parse(doc).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(doc).unwrap();
        assert_eq!(ours.root().to_json().unwrap(), theirs, "{doc}");
        let mut compact = String::new();
        ours.root().write_compact(&mut compact);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&compact).unwrap(),
            theirs,
            "{doc}"
        );
    }
}

#[test]
fn value_kinds() {
    let c = parse(r#"{"o":{},"a":[],"s":"","n":0,"b":true,"z":null}"#).unwrap();
    let kinds: Vec<ValueKind> = c.root().members().map(|(_, v)| v.kind()).collect();
    use ValueKind::*;
    assert_eq!(kinds, [Object, Array, String, Number, Bool, Null]);
    assert_eq!(c.get("o").unwrap().members().count(), 0);
    assert_eq!(c.get("a").unwrap().elements().count(), 0);
    assert_eq!(
        c.get("s").unwrap().elements().count(),
        0,
        "a string has no elements"
    );
}

#[test]
fn numbers_that_overflow_f64_are_rejected_like_serde_json_does() {
    // Found by the token fuzzer: `2.5e3111111111111111111` was accepted (serde_json rejects it).
    for text in [
        r#"{"a":{"b":[1,2.5e3111111111111111111]}}"#,
        r#"{"exp":1e400}"#,
        r#"{"exp":-1e309}"#,
    ] {
        assert_eq!(parse(text).unwrap_err(), ClaimsError::Invalid, "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text).is_err());
    }
    let long = format!("{{\"n\":{}}}", "9".repeat(400));
    assert_eq!(parse(&long).unwrap_err(), ClaimsError::Invalid);
    for text in [
        r#"{"a":1e308}"#,
        r#"{"a":-1.7976931348623157e308}"#,
        r#"{"a":1e-400}"#,
        r#"{"a":123456789012345678901234567890}"#,
    ] {
        assert!(parse(text).is_ok(), "{text}");
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_ok(),
            "{text}"
        );
    }
}

#[test]
fn unicode_escapes_need_exactly_four_hex_digits() {
    // Found by the token fuzzer: `\u+091` was accepted (`from_str_radix` takes a `+` sign);
    // serde_json rejects it.
    for text in [
        r#"{"a":"\u+091"}"#,
        r#"{"a":"\u-091"}"#,
        r#"{"a":"\u 091"}"#,
        r#"{"a":"\u00g1"}"#,
    ] {
        assert_eq!(parse(text).unwrap_err(), ClaimsError::Invalid, "{text}");
        assert!(
            serde_json::from_str::<serde_json::Value>(text).is_err(),
            "{text}"
        );
    }
    assert_eq!(
        parse(r#"{"a":"\u00E9\u00e9"}"#)
            .unwrap()
            .get_str("a")
            .as_deref(),
        Some("éé")
    );
}

#[test]
fn numbers_read_as_f64_exactly_as_the_standard_parser_does() {
    for raw in [
        "0",
        "-0",
        "7",
        "-7",
        "1767225600",
        "-1767225600",
        "999999999999999",
        "-999999999999999",
        "9007199254740993",
        "12345678901234567890",
        "1.5",
        "-2.5e3",
        "1E2",
    ] {
        let c = parse(&format!(r#"{{"n":{raw}}}"#)).unwrap();
        let got = c.get("n").unwrap().as_f64().unwrap();
        let want: f64 = raw.parse().unwrap();
        assert_eq!(got.to_bits(), want.to_bits(), "{raw}");
    }
}

proptest::proptest! {
    /// Raw string contents of every length and mix (quotes, backslashes, escapes, control
    /// characters, non-ASCII) around the eight-byte scanning boundaries: accepted exactly when
    /// serde_json accepts them, and read back as serde_json reads them.
    #[test]
    fn strings_agree_with_serde_json(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                "[a-zA-Z0-9 ]{0,9}",
                proptest::strategy::Just("\"".to_string()),
                proptest::strategy::Just("\\".to_string()),
                proptest::strategy::Just("\\n".to_string()),
                proptest::strategy::Just("\\u00e9".to_string()),
                proptest::strategy::Just("\\ud83d\\ude00".to_string()),
                proptest::strategy::Just("\u{1}".to_string()),
                proptest::strategy::Just("\u{1f}".to_string()),
                proptest::strategy::Just("\u{7f}".to_string()),
                proptest::strategy::Just("é".to_string()),
                proptest::strategy::Just("😀".to_string()),
            ],
            0..12,
        )
    ) {
        let raw: String = parts.concat();
        let doc = format!("{{\"k\":\"{raw}\",\"n\":1}}");
        let ours = parse(&doc);
        let theirs = serde_json::from_str::<serde_json::Value>(&doc);
        proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", doc);
        if let (Ok(c), Ok(v)) = (ours, theirs) {
            let k = c.get_str("k");
            proptest::prop_assert_eq!(k.as_deref(), v["k"].as_str());
            proptest::prop_assert_eq!(c.get("n").and_then(|n| n.as_i64()), Some(1));
        }
    }
}
