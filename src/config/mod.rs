//! The validated configuration. `load` reads the YAML file, rejects unknown fields and every
//! invalid value with an error that names the file and the field.

mod convert;
mod decision_tests;
mod limits;
mod matchers;
mod providers;
mod raw;
mod rules;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest;

pub use decision_tests::{DecisionTest, Expect, TestRequest};
pub use limits::Limits;
pub use providers::{check_url, JwksLocation, Provider, Remote, IMPLICIT_PROVIDER};

use crate::keys::Algorithm;
use crate::policy::Policy;

/// Config files larger than this are refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Everything jwt-authz needs to serve, validated.
#[derive(Debug)]
pub struct Config {
    /// The file this came from.
    pub path: PathBuf,
    /// SHA-256 of the file's text (a reload of identical text is skipped).
    pub digest: [u8; 32],
    /// Listener addresses.
    pub listen: Listen,
    /// Mounted key sources of every provider (each names its provider); all keys of all
    /// sources, with the fetched ones, form one key ring.
    pub keys: Vec<KeySource>,
    /// Reload timing.
    pub reload: Reload,
    /// Token validation.
    pub jwt: JwtSettings,
    /// Rules and the default action.
    pub policy: Policy,
    /// What an allow forwards upstream.
    pub forward: Forward,
    /// Deny response settings.
    pub responses: Responses,
    /// Resource limits.
    pub limits: Limits,
    /// How long in-flight Checks may take to finish on shutdown.
    pub shutdown_grace: Duration,
    /// Decision tests (`tests:`), which a config must pass to be loaded.
    pub tests: Vec<DecisionTest>,
}

/// Where the gRPC server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix domain socket path (`unix:/path`).
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses `host:port` or `unix:/path`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if !path.starts_with('/') {
                return Err(format!("{text:?}: a unix socket needs an absolute path (unix:/run/jwt-authz/authz.sock)"));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        text.parse().map(Self::Tcp).map_err(|_| {
            format!(
                "{text:?} is not an address (write host:port, e.g. 0.0.0.0:9191, or unix:/path)"
            )
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(a) => write!(f, "{a}"),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// `listen:`
#[derive(Clone, Debug)]
pub struct Listen {
    /// The gRPC (ext_authz + health) listener.
    pub grpc: ListenAddr,
    /// The admin HTTP listener (/metrics /healthz /readyz).
    pub admin: SocketAddr,
}

/// How key files are encoded (`format: files`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyEncoding {
    /// The file's exact bytes.
    Raw,
    /// Base64, standard or URL-safe, padding optional.
    Base64,
    /// A PEM public key (SPKI, PKCS#1 or an X.509 certificate).
    Pem,
}

/// How a key directory is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// One key per file; the name is the kid.
    Files {
        /// How each file is encoded.
        encoding: KeyEncoding,
        /// The one algorithm these keys verify.
        algorithm: Algorithm,
    },
    /// Every `*.json` file is a JWK Set.
    Jwks {
        /// The algorithm of RSA and oct JWKs that name none (EC and OKP follow their curve).
        default_algorithm: Option<Algorithm>,
    },
}

/// One entry of `keys:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySource {
    /// The mounted directory.
    pub dir: PathBuf,
    /// Its layout.
    pub format: KeyFormat,
    /// Label for logs and metrics (the directory as written).
    pub label: String,
    /// The provider its keys belong to (an index into `jwt.providers`).
    pub provider: usize,
    /// Where it is in the config file (`keys[0]`, `providers[1].keys[0]`), for messages.
    pub field: String,
}

/// `reload:`
#[derive(Clone, Debug)]
pub struct Reload {
    /// Trailing debounce after a file event.
    pub debounce: Duration,
    /// Safety-net poll interval.
    pub poll_interval: Duration,
}

/// Where a token is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A request header (lower-case name), with an optional case-insensitive prefix.
    Header {
        /// Header name, lower case.
        name: String,
        /// Scheme prefix such as `Bearer `.
        prefix: Option<String>,
    },
    /// A cookie.
    Cookie(String),
    /// A query parameter (opt-in: query strings end up in access logs).
    Query(String),
}

/// `jwt:`
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// Accepted `iss` values; empty accepts any.
    pub issuers: Vec<String>,
    /// Accepted audiences; empty skips the check.
    pub audiences: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf`, `iat`, in seconds.
    pub leeway_secs: u64,
    /// Reject tokens without `exp`.
    pub require_exp: bool,
    /// Reject tokens without `kid` (`unknown_kid`).
    pub require_kid: bool,
    /// Reject tokens whose `exp - iat` exceeds this many seconds.
    pub max_lifetime_secs: Option<u64>,
    /// Reject tokens longer than this.
    pub max_token_bytes: usize,
    /// Where to look for the token, in order; the first hit wins.
    pub sources: Vec<TokenSource>,
    /// Verified tokens remembered per snapshot (`jwt.cache.max_entries`; 0: no cache).
    pub cache_max_entries: usize,
    /// The providers: the named ones in file order, then the implicit one (top-level `keys`)
    /// when there is one. A key verifies only tokens its provider accepts.
    pub providers: Vec<Provider>,
}

impl JwtSettings {
    /// The provider whose issuer is exactly `iss` (named providers only).
    pub fn provider_of(&self, iss: &str) -> Option<usize> {
        self.providers
            .iter()
            .position(|p| p.issuer.as_deref() == Some(iss))
    }

    /// The implicit provider (top-level `keys`), when there is one.
    pub fn implicit(&self) -> Option<usize> {
        self.providers.iter().position(|p| p.issuer.is_none())
    }
}

/// `forward:`
#[derive(Clone, Debug)]
pub struct Forward {
    /// Headers set from claims on allow, in configuration order.
    pub claims_to_headers: Vec<(String, crate::policy::ClaimPath)>,
    /// Header carrying base64url of the verified claims JSON.
    pub payload_header: Option<String>,
    /// Remove the credential before the request goes upstream.
    pub strip_token: bool,
    /// Extra claims copied into the dynamic metadata.
    pub metadata_claims: Vec<crate::policy::ClaimPath>,
    /// Longest forwarded header value; longer values are not forwarded.
    pub max_value_bytes: usize,
}

/// `responses:`
#[derive(Clone, Debug)]
pub struct Responses {
    /// The `realm` of `WWW-Authenticate`.
    pub realm: String,
    /// Send the reason header and JSON body on denies.
    pub expose_reason: bool,
}

/// Listener addresses given on the command line, which win over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--grpc-addr`.
    pub grpc: Option<ListenAddr>,
    /// `--admin-addr`.
    pub admin: Option<SocketAddr>,
}

impl Overrides {
    /// Applies the overrides to a config.
    pub fn apply(&self, config: &mut Config) {
        if let Some(g) = &self.grpc {
            config.listen.grpc = g.clone();
        }
        if let Some(a) = self.admin {
            config.listen.admin = a;
        }
    }
}

/// Why a config was rejected. Every message names the file, and the field where one applies.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read config: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path is a FIFO, socket, device or directory.
    #[error("{}: cannot read config: not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{}: config is {size} bytes, larger than the {MAX_CONFIG_BYTES}-byte limit", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// YAML syntax, unknown field or wrong type (the message names the field and line).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde_yaml's message.
        message: String,
    },
    /// Decision tests (`tests:`) failed: the policy does not decide as they say.
    #[error("{}: tests: {} of {total} failed: {}", path.display(), failed.len(), failed.join("; "))]
    Tests {
        /// The file.
        path: PathBuf,
        /// Each failing test: its name, what it expected and what it got.
        failed: Vec<String>,
        /// Tests run.
        total: usize,
    },
    /// A value is not acceptable.
    #[error("{}: {field}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, as a path (`keys[0].algorithm`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// serde names the Rust struct it expected (`expected struct RawListen`): users wrote YAML, so
/// say what YAML was expected instead.
fn plain_types(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected struct ") {
        out.push_str(&rest[..at]);
        out.push_str("expected a mapping");
        let after = &rest[at + "expected struct ".len()..];
        rest = &after[after
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(after.len())..];
    }
    out.push_str(rest);
    out
}

/// Reads a config file: opened without blocking, a regular file of at most
/// [`MAX_CONFIG_BYTES`], UTF-8.
pub fn read_config(path: &Path) -> Result<String, ConfigError> {
    use crate::fsread::ReadError;
    let bytes = crate::fsread::read_regular(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        ReadError::Io(source) => ConfigError::Read {
            path: path.to_path_buf(),
            source,
        },
        ReadError::NotRegular => ConfigError::NotRegular {
            path: path.to_path_buf(),
        },
        ReadError::TooLarge { size, .. } => ConfigError::TooLarge {
            path: path.to_path_buf(),
            size,
        },
    })?;
    String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
        path: path.to_path_buf(),
        message: "config is not UTF-8".into(),
    })
}

impl Config {
    /// Reads and validates a config file. The path is made absolute first, so that reloads and
    /// file watches refer to the same file whatever the working directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let text = read_config(&path)?;
        Self::from_yaml(&text, &path)
    }

    /// [`Config::load`] without running the decision tests.
    pub fn load_untested(path: &Path) -> Result<Self, ConfigError> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let text = read_config(&path)?;
        Self::from_yaml_untested(&text, &path)
    }

    /// Validates YAML text; `path` is used in error messages and to resolve relative key dirs.
    /// The config's decision tests must pass ([`ConfigError::Tests`] otherwise).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config = Self::from_yaml_untested(text, path)?;
        let failed: Vec<String> = crate::decisions::run(&config, crate::authz::unix_now())
            .into_iter()
            .filter(|o| !o.passed)
            .map(|o| format!("{:?} expected {}, got {}", o.name, o.expected, o.actual))
            .collect();
        if failed.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Tests {
                path: path.to_path_buf(),
                failed,
                total: config.tests.len(),
            })
        }
    }

    /// [`Config::from_yaml`] without running the decision tests (`jwt-authz test` runs them
    /// itself and reports each).
    pub fn from_yaml_untested(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: raw::RawConfig = serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: plain_types(&e.to_string()),
        })?;
        let digest = sha2::Sha256::digest(text.as_bytes()).into();
        convert::convert(raw, path, digest)
    }
}
