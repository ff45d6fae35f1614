//! One fetch of every remote provider, for the offline commands: `validate` prints what each
//! provider serves (or why it cannot be fetched), `explain` decides with the fetched keys.

use std::sync::Arc;

use super::fetch::{self, Fetched};
use super::http::HttpClient;
use crate::config::Config;
use crate::keys::KeySet;

/// What one provider's fetch gave.
#[derive(Debug)]
pub struct FetchedOnce {
    /// The provider's index in `jwt.providers`.
    pub provider: usize,
    /// Its keys and where they came from, or why not.
    pub result: Result<(Arc<KeySet>, String, usize), String>,
}

/// Fetches every remote provider of `config` once, one after another.
pub fn fetch_all(config: &Config) -> Vec<FetchedOnce> {
    let remote: Vec<usize> = (0..config.jwt.providers.len())
        .filter(|&i| config.jwt.providers[i].remote.is_some())
        .collect();
    if remote.is_empty() {
        return Vec::new();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return remote
                .into_iter()
                .map(|provider| FetchedOnce {
                    provider,
                    result: Err(format!("cannot start a runtime: {e}")),
                })
                .collect()
        }
    };
    runtime.block_on(async {
        let fetches = remote.into_iter().map(|i| async move {
            FetchedOnce {
                provider: i,
                result: one(config, i).await,
            }
        });
        let mut out = Vec::new();
        for f in fetches {
            out.push(f.await);
        }
        out
    })
}

async fn one(config: &Config, i: usize) -> Result<(Arc<KeySet>, String, usize), String> {
    let provider = &config.jwt.providers[i];
    let remote = provider.remote.as_ref().expect("a remote provider");
    let client = HttpClient::new(
        remote.ca_file.as_deref(),
        remote.allow_http,
        remote.timeout,
        remote.max_bytes,
    )
    .map_err(|e| e.to_string())?;
    match fetch::fetch(&client, provider, remote, None)
        .await
        .map_err(|e| e.to_string())?
    {
        Fetched::New {
            decoded, jwks_uri, ..
        } => Ok((decoded.set, jwks_uri, decoded.invalid)),
        Fetched::NotModified { .. } => Err("unexpected 304 to an unconditional GET".into()),
    }
}
