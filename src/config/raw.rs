//! The config file as written: serde structs that mirror the YAML one to one. Unknown fields are
//! errors everywhere. `convert` turns this into the validated [`crate::config::Config`].

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use std::time::Duration;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub listen: RawListen,
    #[serde(default)]
    pub keys: Vec<RawKeySource>,
    #[serde(default)]
    pub providers: Vec<super::providers::RawProvider>,
    #[serde(default)]
    pub reload: RawReload,
    #[serde(default)]
    pub jwt: RawJwt,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub paths: RawPaths,
    pub cors_preflight: Option<String>,
    #[serde(default)]
    pub tests: Vec<super::decision_tests::RawDecisionTest>,
    #[serde(default)]
    pub forward: RawForward,
    #[serde(default)]
    pub responses: RawResponses,
    #[serde(default)]
    pub limits: super::limits::RawLimits,
    pub shutdown_grace: Option<HumanDuration>,
}

/// `listen:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    pub grpc: Option<String>,
    pub admin: Option<String>,
}

/// One entry of `keys:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeySource {
    pub dir: PathBuf,
    pub format: Option<String>,
    pub encoding: Option<String>,
    pub algorithm: Option<String>,
}

/// `reload:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    pub debounce: Option<HumanDuration>,
    pub poll_interval: Option<HumanDuration>,
}

/// `jwt:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    #[serde(default)]
    pub issuers: Vec<String>,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub leeway: Option<HumanDuration>,
    pub require_exp: Option<bool>,
    pub require_kid: Option<bool>,
    pub max_lifetime: Option<HumanDuration>,
    pub max_token_bytes: Option<usize>,
    pub sources: Option<Vec<RawTokenSource>>,
    #[serde(default)]
    pub cache: RawCache,
}

/// `jwt.cache:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub max_entries: Option<usize>,
}

/// One entry of `jwt.sources:`; exactly one of `header`, `cookie`, `query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenSource {
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub cookie: Option<String>,
    pub query: Option<String>,
}

/// One entry of `rules:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    #[serde(rename = "match", default)]
    pub matcher: RawMatch,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub deny: bool,
    pub require: Option<RawRequire>,
    pub mode: Option<String>,
}

/// `paths:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPaths {
    pub case_insensitive: Option<bool>,
    pub parameters: Option<String>,
}

/// `rules[].match`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub path_regex: Option<String>,
    pub path_template: Option<String>,
    #[serde(default)]
    pub headers: Vec<RawHeaderCondition>,
    #[serde(default)]
    pub peers: Vec<String>,
    #[serde(default)]
    pub source_ips: Vec<String>,
}

/// One entry of `match.headers`; exactly one operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderCondition {
    pub name: String,
    pub equals: Option<String>,
    pub one_of: Option<Vec<String>>,
    pub prefix: Option<String>,
    pub exists: Option<bool>,
}

/// `rules[].require` and each entry of its `any_of`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequire {
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub claims: Vec<RawClaimRequirement>,
    #[serde(default)]
    pub any_of: Vec<RawRequire>,
}

/// One claim requirement; exactly one operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClaimRequirement {
    pub claim: Option<String>,
    pub equals: Option<serde_json::Value>,
    pub one_of: Option<Vec<serde_json::Value>>,
    pub contains: Option<serde_json::Value>,
    pub prefix: Option<String>,
    pub exists: Option<bool>,
    pub equals_param: Option<String>,
    pub not: Option<Box<RawClaimRequirement>>,
}

/// `forward:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawForward {
    #[serde(default)]
    pub claims_to_headers: OrderedPairs,
    pub payload_header: Option<String>,
    #[serde(default)]
    pub strip_token: bool,
    #[serde(default)]
    pub metadata_claims: Vec<String>,
    pub max_value_bytes: Option<usize>,
}

/// `responses:`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResponses {
    pub realm: Option<String>,
    pub expose_reason: Option<bool>,
}

/// A string-to-string mapping that keeps the file's order and rejects duplicate keys.
#[derive(Debug, Default)]
pub struct OrderedPairs(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of header name to claim path")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedPairs, A::Error> {
                let mut pairs: Vec<(String, String)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if pairs.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format!("duplicate key `{k}`")));
                    }
                    pairs.push((k, v));
                }
                Ok(OrderedPairs(pairs))
            }
        }
        d.deserialize_map(V)
    }
}

/// A duration as humantime reads it (`200ms`, `30s`, `1h30m`). Parsed inside the visitor so
/// that the YAML error names the field; the message says how to write one.
#[derive(Clone, Copy, Debug)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with a unit, such as 30s, 200ms, 10m or 24h")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(text).map(HumanDuration).map_err(|e| {
                    E::custom(format!(
                        "invalid duration {text:?}: {e} (write a number with a unit: 200ms, 30s, 10m, 24h)"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}
