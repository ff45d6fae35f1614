//! What each subcommand does. `main` only parses the command line and calls [`run`].

mod explain;
mod output;
mod probe;
mod test;
mod token;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError, Overrides};
use crate::jwt;
use crate::keys::{self, KeyError, KeyRing};
use crate::server::{self, ServeError};
use crate::telemetry::{self, LogError};

use output::{say, Output};

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The config is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keys are invalid.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Logging could not be set up.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Standard output could not be written.
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
    /// A runtime could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    /// Anything else, explained.
    #[error("{0}")]
    Other(String),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, CommandError> {
    let _log = telemetry::init_logging(cli.log_format, &cli.log_level)?;
    match cli.command {
        Command::Serve(args) => {
            let mut config = Config::load(&args.config.config)?;
            let overrides = Overrides {
                grpc: args.grpc_addr,
                admin: args.admin_addr,
            };
            overrides.apply(&mut config);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(CommandError::Runtime)?;
            let served = runtime.block_on(server::serve(config, overrides));
            // A reload still reading a file must not hold the exit.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => validate(&Config::load(&args.config)?),
        Command::Token(args) => token::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Probe(args) => probe::run(&args),
        Command::Test(args) => test::run(&args),
    }
}

/// Prints each key's kid, algorithm, type and size (or curve) and fingerprint (HMAC: first 8
/// bytes of SHA-256, hex; public keys: the RFC 7638 thumbprint); never the key.
fn validate(config: &Config) -> Result<ExitCode, CommandError> {
    let mut out = Output::default();
    for p in &config.jwt.providers {
        let Some(remote) = &p.remote else { continue };
        let limit = config.limits.request_timeout;
        if remote.unknown_kid_wait > limit {
            eprintln!(
                "warning: provider {}: remote.unknown_kid_wait ({}) is longer than limits.request_timeout ({}): a Check waits at most {} for an unknown-kid refetch (and no longer than Envoy's ext_authz timeout)",
                p.name,
                humantime::format_duration(remote.unknown_kid_wait),
                humantime::format_duration(limit),
                humantime::format_duration(limit.saturating_sub(crate::authz::ANSWER_MARGIN)),
            );
        }
    }
    // Each source loaded once: its warnings shown, its errors named by the config file and
    // its field.
    let mut sets = Vec::with_capacity(config.keys.len());
    for source in &config.keys {
        let loaded = keys::load_source(source, &config.limits).map_err(|e| {
            CommandError::Other(format!("{}: {}: {e}", config.path.display(), source.field))
        })?;
        for w in loaded.iter().flat_map(|k| &k.warnings) {
            eprintln!("warning: {w}");
        }
        let set = keys::KeySet::new(std::sync::Arc::from(source.label.as_str()), loaded)?;
        sets.push((source.provider, std::sync::Arc::new(set)));
    }
    let mut failed = Vec::new();
    let mut fetched_lines = Vec::new();
    for f in crate::providers::once::fetch_all(config) {
        let name = &config.jwt.providers[f.provider].name;
        match f.result {
            Ok((set, uri, skipped)) => {
                fetched_lines.push(format!(
                    "provider {name}: {} fetched from {uri}{}",
                    counted(set.keys().len(), "key"),
                    if skipped > 0 {
                        format!(" ({skipped} skipped: see the warnings)")
                    } else {
                        String::new()
                    }
                ));
                sets.push((f.provider, set));
            }
            Err(e) => failed.push(format!("provider {name}: cannot fetch its keys: {e}")),
        }
    }
    let ring = KeyRing::from_sets(sets)?;
    for alg in keys::Algorithm::ALL {
        let n = ring.with_alg(alg).len();
        if n > jwt::MAX_KIDLESS_CANDIDATES {
            eprintln!(
                "warning: {n} keys use {alg}: a token without a kid is tried against at most {} keys, so kid-less {alg} tokens will be refused (unknown_kid); give tokens a kid (and consider jwt.require_kid: true)",
                jwt::MAX_KIDLESS_CANDIDATES
            );
        }
    }
    if ring.is_empty() && failed.is_empty() {
        let dirs: Vec<String> = config
            .keys
            .iter()
            .map(|k| k.dir.display().to_string())
            .collect();
        return Err(CommandError::Other(format!(
            "no keys found in {}",
            dirs.join(", ")
        )));
    }
    say!(
        out,
        "{:<24} {:<6} {:<14} {:<43}  source",
        "kid",
        "alg",
        "key",
        "fingerprint"
    );
    for k in ring.keys() {
        say!(
            out,
            "{:<24} {:<6} {:<14} {:<43}  {}",
            k.kid,
            k.alg.name(),
            k.kind,
            k.fingerprint,
            k.source
        );
    }
    for line in fetched_lines {
        say!(out, "{line}");
    }
    if !failed.is_empty() {
        out.emit()?;
        return Err(CommandError::Other(failed.join("\n")));
    }
    let providers = config
        .jwt
        .providers
        .iter()
        .filter(|p| p.issuer.is_some())
        .count();
    say!(
        out,
        "{}: OK ({}, {}{})",
        config.path.display(),
        counted(ring.len(), "key"),
        counted(config.policy.rules.len(), "rule"),
        if providers > 0 {
            format!(", {}", counted(providers, "provider"))
        } else {
            String::new()
        }
    );
    if !config.tests.is_empty() {
        say!(
            out,
            "{} passed",
            counted(config.tests.len(), "decision test")
        );
    }
    out.emit()?;
    Ok(ExitCode::SUCCESS)
}

/// `1 key`, `2 keys`.
fn counted(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
