//! A fault-injecting identity provider for the fetcher's tests: serves a JWK Set at `/jwks`
//! and a discovery document at `/.well-known/openid-configuration`, over HTTP or HTTPS (a
//! private CA made with openssl), and can be slow, fail, lie, redirect or grow. Counts every
//! request per path and remembers the `If-None-Match` it was sent. What a real OpenID Provider
//! cannot be made to do on demand; the real one (oidc-provider) is in `envoy_oidc.rs`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How `/jwks` answers.
#[derive(Clone, Debug)]
pub enum Mode {
    /// 200 with the set (304 when `If-None-Match` matches the ETag).
    Serve,
    /// Like `Serve`, after this delay.
    Slow(Duration),
    /// This status, empty body.
    Status(u16),
    /// 200 with this body instead of the set.
    Body(String),
    /// 302 to this location.
    Redirect(String),
}

#[derive(Debug)]
struct Served {
    jwks: String,
    etag: Option<String>,
    cache_control: Option<String>,
    mode: Mode,
    issuer: String,
    hits: Vec<(String, Option<String>)>,
}

/// The server; stops with the test's runtime.
#[derive(Clone)]
pub struct JwksServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    served: Arc<Mutex<Served>>,
}

/// A private CA and a server certificate for 127.0.0.1 and localhost, made with openssl.
pub struct TestCa {
    /// The CA certificate (PEM): what `ca_file` names.
    pub ca_file: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TestCa {
    /// Makes the CA and server certificate in `dir`.
    pub fn new(dir: &Path) -> Self {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=jwt-authz test CA",
        ]);
        run(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Self {
            ca_file: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

impl JwksServer {
    /// Serves `jwks` over HTTP; the discovery document claims `issuer` (`{base}` in it is
    /// replaced by the server's own base URL).
    pub async fn start(jwks: &str, issuer: &str) -> Self {
        Self::start_inner(jwks, issuer, None).await
    }

    /// The same over HTTPS with `ca`'s server certificate.
    pub async fn start_tls(jwks: &str, issuer: &str, ca: &TestCa) -> Self {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(&ca.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&ca.key).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Self::start_inner(
            jwks,
            issuer,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn start_inner(jwks: &str, issuer: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{addr}");
        let served = Arc::new(Mutex::new(Served {
            jwks: jwks.to_string(),
            etag: None,
            cache_control: None,
            mode: Mode::Serve,
            issuer: issuer.replace("{base}", &base),
            hits: Vec::new(),
        }));
        let server = Self {
            addr,
            scheme,
            served: served.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let served = served.clone();
                let base = base.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let served = served.clone();
                        let base = base.clone();
                        async move { Ok::<_, Infallible>(answer(req, &served, &base).await) }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(s), service).await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        server
    }

    /// The base URL.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The JWK Set's URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.base())
    }

    /// Replaces the set (and its ETag).
    pub fn set_jwks(&self, jwks: &str, etag: Option<&str>) {
        let mut s = self.served.lock().unwrap();
        s.jwks = jwks.to_string();
        s.etag = etag.map(str::to_string);
    }

    /// Sets the `Cache-Control` header of the set.
    pub fn set_cache_control(&self, value: Option<&str>) {
        self.served.lock().unwrap().cache_control = value.map(str::to_string);
    }

    /// Sets how `/jwks` answers.
    pub fn set_mode(&self, mode: Mode) {
        self.served.lock().unwrap().mode = mode;
    }

    /// Requests to `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.served
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    /// The `If-None-Match` values sent to `/jwks`, in order.
    pub fn if_none_match(&self) -> Vec<Option<String>> {
        let s = self.served.lock().unwrap();
        s.hits
            .iter()
            .filter(|(p, _)| p == "/jwks")
            .map(|(_, e)| e.clone())
            .collect()
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    served: &Mutex<Served>,
    base: &str,
) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let inm = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (mode, jwks, etag, cache_control, issuer) = {
        let mut s = served.lock().unwrap();
        s.hits.push((path.clone(), inm.clone()));
        (
            s.mode.clone(),
            s.jwks.clone(),
            s.etag.clone(),
            s.cache_control.clone(),
            s.issuer.clone(),
        )
    };
    let reply = |status: u16, body: String| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if path == "/.well-known/openid-configuration" {
        return reply(
            200,
            serde_json::json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks")}).to_string(),
        );
    }
    if path != "/jwks" {
        return reply(404, String::new());
    }
    match mode {
        Mode::Slow(d) => tokio::time::sleep(d).await,
        Mode::Status(code) => return reply(code, String::new()),
        Mode::Body(b) => return reply(200, b),
        Mode::Redirect(to) => {
            return hyper::Response::builder()
                .status(302)
                .header("location", to)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
        Mode::Serve => {}
    }
    if etag.is_some() && inm == etag {
        // As RFC 9111 §4.3.4 has it, without Cache-Control: the client keeps the 200's.
        return hyper::Response::builder()
            .status(304)
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    let mut response = hyper::Response::builder()
        .status(200)
        .header("content-type", "application/json");
    if let Some(e) = etag {
        response = response.header("etag", e);
    }
    if let Some(c) = cache_control {
        response = response.header("cache-control", c);
    }
    response.body(Full::new(Bytes::from(jwks))).unwrap()
}
