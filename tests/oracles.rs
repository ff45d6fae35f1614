//! Differential oracles, so that a divergence is found by a machine rather than a reader:
//! the strict claims parser against serde_json both ways (what one accepts the other accepts,
//! with the same values), NumericDate reading against `str::parse::<f64>`, the registered-claim
//! checks against jsonwebtoken's `Validation`, and the invariants of path normalization.

use std::path::Path;

use jwt_authz::config::Config;
use jwt_authz::jwt::{verify, Claims, ClaimsError};
use jwt_authz::keys::{Algorithm, KeyRing, LoadedKey};
use jwt_authz::policy::{Parameters, PathOptions};
use jwt_authz::testing::{check_normalization, jsonwebtoken_reasons, sign_compact, ClaimRules};
use proptest::prelude::*;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

const MAX_DEPTH: usize = 16;

/// serde_json's reading of a document, refusing duplicate members (which serde_json itself
/// resolves to the last one) so that it can judge what the strict parser must refuse.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Strict, E> {
                Ok(Strict(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Strict, E> {
                Ok(Strict(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Strict, E> {
                Ok(Strict(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Strict, E> {
                serde_json::Number::from_f64(n)
                    .map(|n| Strict(Value::Number(n)))
                    .ok_or_else(|| E::custom("not finite"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Strict, E> {
                Ok(Strict(Value::String(s.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Strict(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut members = Map::new();
                while let Some((k, Strict(v))) = map.next_entry::<String, Strict>()? {
                    if members.insert(k, v).is_some() {
                        return Err(de::Error::custom("duplicate member"));
                    }
                }
                Ok(Strict(Value::Object(members)))
            }
        }
        d.deserialize_any(V)
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop_oneof![
            "[a-z]{0,6}",
            "\\PC{0,6}",
            Just("\"\\\u{1}\u{7f}é😀".to_string())
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}|\\PC{1,3}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::btree_map("[a-e]{1,3}", json_value(), 0..6),
        any::<bool>(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<char>()), 0..3),
    )
        .prop_map(|(members, pretty, edits)| {
            let v = Value::Object(members.into_iter().collect());
            let mut text = if pretty {
                serde_json::to_string_pretty(&v).unwrap()
            } else {
                v.to_string()
            };
            // Near-valid documents: a few characters replaced, inserted or removed, or a
            // member repeated (which is valid JSON to serde_json and a duplicate to us).
            for (at, op, c) in edits {
                let chars: Vec<char> = text.chars().collect();
                if chars.is_empty() {
                    break;
                }
                let i = at.index(chars.len());
                let mut chars = chars;
                match op {
                    0 => chars[i] = c,
                    1 => chars.insert(i, c),
                    2 => {
                        chars.remove(i);
                    }
                    _ => {
                        if let Some(body) = text.strip_prefix("{\"a\":") {
                            chars = format!("{{\"a\":1,\"\\u0061\":{body}").chars().collect();
                        }
                    }
                }
                text = chars.into_iter().collect();
            }
            text
        })
}

/// A JSON number's text, following RFC 8259's grammar.
fn number_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop_oneof!["0", "[1-9][0-9]{0,24}"],
        prop::option::of("[0-9]{1,20}"),
        prop::option::of(("[eE]", prop_oneof!["", "\\+", "-"], "[0-9]{1,3}")),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&int);
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, sign, digits)) = exp {
                s.push_str(&e);
                s.push_str(&sign);
                s.push_str(&digits);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Accepted ⇔ serde_json accepts a duplicate-free object within the depth limit; the
    /// values are the same.
    #[test]
    fn the_claims_parser_agrees_with_serde_json_both_ways(doc in document()) {
        let ours = Claims::parse(doc.clone().into_bytes(), MAX_DEPTH);
        let theirs = serde_json::from_str::<Strict>(&doc).map(|s| s.0);
        let acceptable = theirs.as_ref().is_ok_and(|v| v.is_object() && depth(v) <= MAX_DEPTH);
        prop_assert_eq!(ours.is_ok(), acceptable, "{:?}: ours {:?}, serde_json {:?}", doc, ours.as_ref().err(), theirs.as_ref().err());
        if let (Ok(ours), Ok(theirs)) = (ours, &theirs) {
            prop_assert_eq!(&ours.root().to_json().unwrap(), theirs);
        }
        // A document serde_json reads only by dropping a duplicate is a duplicate to us.
        if serde_json::from_str::<Value>(&doc).is_ok_and(|v| v.is_object() && depth(&v) <= MAX_DEPTH) && theirs.is_err() {
            prop_assert_eq!(Claims::parse(doc.into_bytes(), MAX_DEPTH).unwrap_err(), ClaimsError::Duplicate);
        }
    }

    /// NumericDates read exactly as the standard library reads the number's text.
    #[test]
    fn numbers_read_as_the_standard_parser_reads_them(text in number_text()) {
        let doc = format!(r#"{{"n":{text}}}"#);
        let standard = text.parse::<f64>().unwrap();
        match Claims::parse(doc.into_bytes(), MAX_DEPTH) {
            Ok(c) => {
                let ours = c.get("n").unwrap().as_f64().unwrap();
                prop_assert_eq!(ours.to_bits(), standard.to_bits(), "{}", text);
            }
            Err(_) => prop_assert!(standard.is_infinite(), "{} refused but reads as {}", text, standard),
        }
    }
}

// ---- registered claims against jsonwebtoken::Validation ----

const KEY: &[u8] = b"oracle-key-0123456789abcdef01234";

#[derive(Clone, Debug)]
struct Case {
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    iss: Option<&'static str>,
    aud: Option<Value>,
    issuers: Vec<&'static str>,
    audiences: Vec<&'static str>,
    leeway: u64,
    require_exp: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let offset = || prop::option::of(-400i64..400);
    let aud = prop::option::of(prop_oneof![
        prop_oneof![Just("x"), Just("y"), Just("z")].prop_map(Value::from),
        prop::sample::subsequence(vec!["x", "y", "z"], 0..=3).prop_map(Value::from),
    ]);
    (
        (offset(), offset(), prop::option::of(-400i64..0)),
        (prop::option::of(prop_oneof![Just("a"), Just("b")]), aud),
        (
            prop::sample::subsequence(vec!["a", "b"], 0..=2),
            prop::sample::subsequence(vec!["x", "y"], 0..=2),
        ),
        (prop_oneof![Just(0u64), Just(60)], any::<bool>()),
    )
        .prop_map(
            |((exp, nbf, iat), (iss, aud), (issuers, audiences), (leeway, require_exp))| Case {
                exp,
                nbf,
                iat,
                iss,
                aud,
                issuers,
                audiences,
                leeway,
                require_exp,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn registered_claim_checks_agree_with_jsonwebtoken(c in case()) {
        let now = jwt_authz::authz::unix_now() as i64;
        let leeway = c.leeway as i64;
        // Away from the boundaries: jsonwebtoken reads its own clock, a second may pass, and
        // at exactly exp + leeway RFC 7519 says expired where jsonwebtoken still accepts.
        prop_assume!(c.exp.is_none_or(|e| (e + leeway).abs() > 2));
        prop_assume!(c.nbf.is_none_or(|n| (n - leeway).abs() > 2));
        let mut claims = Map::new();
        for (name, offset) in [("exp", c.exp), ("nbf", c.nbf), ("iat", c.iat)] {
            if let Some(o) = offset {
                claims.insert(name.into(), (now + o).into());
            }
        }
        if let Some(iss) = c.iss {
            claims.insert("iss".into(), iss.into());
        }
        if let Some(aud) = &c.aud {
            claims.insert("aud".into(), aud.clone());
        }
        let token = sign_compact(
            Algorithm::HS256,
            KEY,
            r#"{"alg":"HS256","kid":"k"}"#,
            &Value::Object(claims).to_string(),
        );
        let yaml = format!(
            "keys: [{{ dir: /k, algorithm: HS256 }}]\njwt: {{ issuers: {:?}, audiences: {:?}, leeway: {}s, require_exp: {} }}\n",
            c.issuers, c.audiences, c.leeway, c.require_exp
        );
        let config = Config::from_yaml(&yaml, Path::new("oracle.yaml")).unwrap();
        let ring = KeyRing::build(vec![LoadedKey::hmac("k", Algorithm::HS256, KEY, "oracle")]).unwrap();
        let ours = verify(&token, &ring, &config.jwt, &config.limits, now as u64);
        let rules = ClaimRules { issuers: &c.issuers, audiences: &c.audiences, leeway: c.leeway, require_exp: c.require_exp };
        let theirs = jsonwebtoken_reasons(&token, KEY, &rules);
        match ours {
            Ok(_) => prop_assert!(theirs.is_empty(), "we accept, jsonwebtoken says {:?}", theirs),
            Err(e) => prop_assert!(theirs.contains(&e.reason), "we say {:?} ({}), jsonwebtoken {:?}", e.reason, e.detail, theirs),
        }
    }
}

// ---- path normalization ----

fn path_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("/"),
            Just("."),
            Just(".."),
            Just("a"),
            Just("B"),
            Just(";"),
            Just(";x=1"),
            Just("%2e"),
            Just("%2E"),
            Just("%2f"),
            Just("%5C"),
            Just("%41"),
            Just("%3B"),
            Just("%"),
            Just("%zz"),
            Just("\\"),
            Just("?q=/.."),
            Just("é"),
            Just("~"),
        ],
        0..12,
    )
    .prop_map(|parts| format!("/{}", parts.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Normalized paths are fixed points, absolute, and free of what normalization removes.
    #[test]
    fn normalization_is_idempotent_and_leaves_nothing_ambiguous(raw in path_text(), ci in any::<bool>(), strip in any::<bool>()) {
        let options = PathOptions {
            case_insensitive: ci,
            parameters: if strip { Parameters::Strip } else { Parameters::Reject },
        };
        if let Err(why) = check_normalization(&raw, &options) {
            prop_assert!(false, "{}", why);
        }
    }
}
