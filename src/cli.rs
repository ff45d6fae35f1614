//! The command line. Every flag can also be set from the environment (`JWT_AUTHZ_*`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use humantime::parse_duration;

use crate::config::ListenAddr;
use crate::telemetry::LogFormat;

/// jwt-authz: Envoy ext_authz server verifying HMAC JWTs with hot-reloaded keys.
#[derive(Debug, Parser)]
#[command(name = "jwt-authz", version, about, long_about = None)]
pub struct Cli {
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "JWT_AUTHZ_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    /// Log level or filter directives (e.g. `info`, `debug`, `info,jwt_authz=debug`).
    #[arg(
        long,
        global = true,
        env = "JWT_AUTHZ_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve ext_authz Checks (gRPC) and the admin endpoints until SIGTERM/SIGINT.
    Serve(ServeArgs),
    /// Load the config and keys, print each key's kid, algorithm, length and fingerprint.
    Validate(ConfigArg),
    /// Mint a token with a configured key (for local testing and demos).
    Token(TokenArgs),
    /// Run the exact Check logic offline and print the decision.
    /// Exit status: 0 allow, 3 deny, 1 error.
    Explain(ExplainArgs),
    /// Ask a running server's gRPC health service (for `helm test` and exec probes).
    /// Exit status: 0 SERVING, 1 otherwise.
    Probe(ProbeArgs),
    /// Run the config's decision tests (`tests:`) with the real decision code; needs no keys.
    /// Exit status: 0 all passed, 1 a test failed or the config is invalid.
    Test(TestArgs),
}

/// `test` flags.
#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
    /// Output: `text` (one line per failure and a summary) or `json`.
    #[arg(long, env = "JWT_AUTHZ_TEST_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `probe` flags.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The gRPC address (host:port or unix:/path).
    #[arg(long, env = "JWT_AUTHZ_PROBE_ADDR", default_value = "127.0.0.1:9191")]
    pub addr: String,
    /// The health service name to ask about.
    #[arg(
        long,
        env = "JWT_AUTHZ_PROBE_SERVICE",
        default_value = "envoy.service.auth.v3.Authorization"
    )]
    pub service: String,
    /// Give up after this long.
    #[arg(long, env = "JWT_AUTHZ_PROBE_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Ask the admin listener instead (`host:port/path`, e.g. `127.0.0.1:9090/healthz`): exit 0
    /// on HTTP 200. For exec probes where the admin listener is bound to loopback.
    #[arg(long, env = "JWT_AUTHZ_PROBE_HTTP")]
    pub http: Option<String>,
}

/// `--config`.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config file.
    #[arg(long, short = 'c', env = "JWT_AUTHZ_CONFIG")]
    pub config: PathBuf,
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
    /// gRPC listen address (host:port or unix:/path); overrides listen.grpc.
    #[arg(long, env = "JWT_AUTHZ_GRPC_ADDR", value_parser = ListenAddr::parse)]
    pub grpc_addr: Option<ListenAddr>,
    /// Admin listen address (host:port); overrides listen.admin.
    #[arg(long, env = "JWT_AUTHZ_ADMIN_ADDR")]
    pub admin_addr: Option<SocketAddr>,
}

/// `token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
    /// Key to sign with (default: the first HMAC key, or the configured public key that
    /// matches `--private-key`).
    #[arg(long, env = "JWT_AUTHZ_TOKEN_KID")]
    pub kid: Option<String>,
    /// Sign with this private key (PEM: PKCS#8, PKCS#1 or SEC1), for RS*, PS*, ES* and EdDSA
    /// keys: its public half must be a configured key, whose kid and algorithm the token gets.
    #[arg(long, env = "JWT_AUTHZ_TOKEN_PRIVATE_KEY")]
    pub private_key: Option<std::path::PathBuf>,
    /// `sub` claim.
    #[arg(long, env = "JWT_AUTHZ_TOKEN_SUB")]
    pub sub: Option<String>,
    /// `scope` claim (space-delimited).
    #[arg(long, env = "JWT_AUTHZ_TOKEN_SCOPE")]
    pub scope: Option<String>,
    /// `iss` claim (default: the first of jwt.issuers).
    #[arg(long, env = "JWT_AUTHZ_TOKEN_ISS")]
    pub iss: Option<String>,
    /// `aud` claim (default: the first of jwt.audiences).
    #[arg(long, env = "JWT_AUTHZ_TOKEN_AUD")]
    pub aud: Option<String>,
    /// Extra claim `name=value`; the value is parsed as JSON when it is valid JSON
    /// (`n=5`, `roles=["a","b"]`), else taken as a string. Repeatable.
    #[arg(long = "claim", env = "JWT_AUTHZ_TOKEN_CLAIMS", value_delimiter = ',')]
    pub claims: Vec<String>,
    /// Lifetime (exp - iat).
    #[arg(long, env = "JWT_AUTHZ_TOKEN_TTL", default_value = "10m", value_parser = parse_duration)]
    pub ttl: Duration,
}

/// `explain` flags.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
    /// The token (placed where the first jwt.sources entry looks for it). Omit to explain a
    /// request without one.
    #[arg(long, env = "JWT_AUTHZ_EXPLAIN_TOKEN")]
    pub token: Option<String>,
    /// HTTP method.
    #[arg(long, env = "JWT_AUTHZ_EXPLAIN_METHOD", default_value = "GET")]
    pub method: String,
    /// Request path (may include a query).
    #[arg(long, env = "JWT_AUTHZ_EXPLAIN_PATH", default_value = "/")]
    pub path: String,
    /// Host.
    #[arg(long, env = "JWT_AUTHZ_EXPLAIN_HOST", default_value = "localhost")]
    pub host: String,
    /// Rule named by the route's context_extensions (jwt-authz-rule).
    #[arg(long, env = "JWT_AUTHZ_EXPLAIN_RULE")]
    pub rule: Option<String>,
    /// A request header, `name:value` (repeat for more; a name twice sends it twice).
    #[arg(long = "header", value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// The mTLS peer's identity Envoy reports (`source.principal`, a SPIFFE ID).
    #[arg(long, value_name = "SPIFFE_ID")]
    pub peer: Option<String>,
    /// The peer's address Envoy reports (`source.address`), e.g. 10.0.0.7 or 10.0.0.7:51234.
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<String>,
}
