//! The fetcher's HTTP client: hyper-util's client over hyper-rustls (rustls on aws-lc-rs),
//! trusting the system's roots plus `ca_file`. One GET at a time per provider, bounded by
//! `timeout` (connect and response together) and `max_bytes`; redirects are never followed
//! (the legacy client does not follow them; a 3xx is a failure that says so).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Why a GET failed (each message says what to fix).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The CA bundle could not be used.
    #[error("ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Not a usable URL.
    #[error("{0}")]
    Url(String),
    /// No answer within `timeout`.
    #[error("no response within {0:?} (remote.timeout)")]
    Timeout(Duration),
    /// Connecting, TLS or the exchange failed.
    #[error("request failed: {0}")]
    Transport(String),
    /// A redirect.
    #[error("HTTP {status} redirect to {location:?}: redirects are not followed (configure the final URL)")]
    Redirect {
        /// The status.
        status: u16,
        /// Where it pointed.
        location: String,
    },
    /// Another status than 200 or 304.
    #[error("HTTP {0}")]
    Status(u16),
    /// The body is larger than `max_bytes`.
    #[error("response is larger than {0} bytes (remote.max_bytes)")]
    TooLarge(usize),
}

/// An answer: 304, or 200 with its body and caching headers.
#[derive(Debug)]
pub enum Answer {
    /// 304 Not Modified.
    NotModified {
        /// `Cache-Control: max-age`, if any.
        max_age: Option<Duration>,
    },
    /// 200 OK.
    Body {
        /// The body.
        bytes: Bytes,
        /// The `ETag`, kept for `If-None-Match`.
        etag: Option<String>,
        /// `Cache-Control: max-age` (0 for `no-cache`/`no-store`), if any.
        max_age: Option<Duration>,
    },
}

/// One provider's client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    max_bytes: usize,
}

/// Trust anchors: the system's, plus the PEM certificates of `ca_file`.
fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, "system trust anchors loaded");
    if let Some(path) = ca_file {
        let err = |message: String| HttpError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        if certs.is_empty() {
            return Err(err("no PEM certificate in the file".into()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| err(format!("not a usable CA certificate: {e}")))?;
        }
    }
    Ok(roots)
}

impl HttpClient {
    /// A client trusting the system's roots and `ca_file`; `http://` only with `allow_http`.
    pub fn new(
        ca_file: Option<&Path>,
        allow_http: bool,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, HttpError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Transport(e.to_string()))?
            .with_root_certificates(roots(ca_file)?)
            .with_no_client_auth();
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if allow_http {
            builder.https_or_http()
        } else {
            builder.https_only()
        }
        .enable_http1()
        .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(Self {
            client,
            timeout,
            max_bytes,
        })
    }

    /// GETs `url` (with `If-None-Match: etag` when given).
    pub async fn get(&self, url: &str, etag: Option<&str>) -> Result<Answer, HttpError> {
        let mut request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("jwt-authz/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(tag) = etag {
            request = request.header(http::header::IF_NONE_MATCH, tag);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| HttpError::Url(format!("{url:?}: {e}")))?;
        tokio::time::timeout(self.timeout, self.exchange(request))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }

    async fn exchange(&self, request: http::Request<Empty<Bytes>>) -> Result<Answer, HttpError> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| HttpError::Transport(describe(&e)))?;
        let status = response.status();
        let headers = response.headers();
        let max_age = headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age);
        if status == http::StatusCode::NOT_MODIFIED {
            return Ok(Answer::NotModified { max_age });
        }
        if status.is_redirection() {
            let location = headers
                .get(http::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            return Err(HttpError::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        if status != http::StatusCode::OK {
            return Err(HttpError::Status(status.as_u16()));
        }
        let etag = headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let too_large = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > self.max_bytes as u64);
        if too_large {
            return Err(HttpError::TooLarge(self.max_bytes));
        }
        let bytes = Limited::new(response.into_body(), self.max_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    HttpError::TooLarge(self.max_bytes)
                } else {
                    HttpError::Transport(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Answer::Body {
            bytes,
            etag,
            max_age,
        })
    }
}

/// The error and its causes on one line (hyper's top-level message alone says little).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `max-age=N` of one `Cache-Control` value; `no-cache`/`no-store` count as 0.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|d| {
        let lower = d.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        lower
            .strip_prefix("max-age=")
            .and_then(|n| n.trim_matches('"').parse::<u64>().ok())
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read_and_no_cache_is_zero() {
        assert_eq!(
            max_age("public, max-age=3600"),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(max_age("Max-Age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public, must-revalidate"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
