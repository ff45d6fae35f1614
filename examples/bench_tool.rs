//! Helpers for `scripts/bench.sh`:
//!   bench_tool fixtures DIR                 configs (config.yaml: cache on; config-nocache.yaml:
//!                                           `jwt.cache.max_entries: 0`), an HS256 key, RS256 and
//!                                           ES256 public keys, and pre-framed gRPC bodies
//!                                           (allow.grpc HS256, allow-rs256.grpc, allow-es256.grpc,
//!                                           deny.grpc: no token)
//!   bench_tool verify ADDR DIR [--noop]     check a server answers the bodies correctly
//!   bench_tool upstream ADDR                a minimal HTTP/1.1 upstream for the Envoy runs
//!   bench_tool envoy-configs DIR AUTHZ UPSTREAM [NOOP]
//!                                           envoy-with.yaml / envoy-without.yaml (and
//!                                           envoy-noop.yaml: ext_authz to the no-op server) from
//!                                           deploy/envoy/envoy.yaml (listener :18080, admin :19901)

use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::CheckRequest;
use jwt_authz::keys::{Algorithm, Curve};
use jwt_authz::testing::{ec_key, envoy_like_request, rsa_key, sign_compact, sign_with};
use prost::Message;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const KEY: [u8; 32] = [7u8; 32];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or("missing argument (see the file's header)")
    };
    match args.first().map(String::as_str) {
        Some("fixtures") => fixtures(Path::new(&arg(1)?)),
        Some("verify") => runtime()?.block_on(verify(
            &arg(1)?,
            Path::new(&arg(2)?),
            args.iter().any(|a| a == "--noop"),
        )),
        Some("upstream") => runtime()?.block_on(upstream(&arg(1)?)),
        Some("envoy-configs") => envoy_configs(
            Path::new(&arg(1)?),
            &arg(2)?,
            &arg(3)?,
            args.get(4).map(String::as_str),
        ),
        _ => Err("usage: bench_tool fixtures|verify|upstream|envoy-configs ...".into()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn framed(req: &CheckRequest) -> Vec<u8> {
    let msg = req.encode_to_vec();
    let mut out = vec![0u8];
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(&msg);
    out
}

fn fixtures(dir: &Path) -> Result<()> {
    for sub in ["keys", "rsa", "ec"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("keys/bench-2026-11"), KEY)?;
    let rsa = rsa_key();
    let ec = ec_key(Curve::P256);
    std::fs::write(dir.join("rsa/rsa-2026-11.pem"), rsa.to_public_pem())?;
    std::fs::write(dir.join("ec/ec-2026-11.pem"), ec.to_public_pem())?;
    let mut config = String::from(
        "keys:\n  - { dir: keys, algorithm: HS256 }\n  - { dir: rsa, encoding: pem, algorithm: RS256 }\n  - { dir: ec, encoding: pem, algorithm: ES256 }\njwt:\n  issuers: ['https://issuer.example.com']\n  audiences: [orders-api]\nrules:\n  - { name: health, match: { path_prefix: /healthz }, public: true }\n",
    );
    for i in 0..8 {
        config.push_str(&format!(
            "  - {{ name: svc{i}, match: {{ methods: [GET, POST], path_prefix: /svc{i} }}, require: {{ scopes: ['svc{i}:read'] }} }}\n"
        ));
    }
    config.push_str("  - { name: orders, match: { path_prefix: /orders }, require: { scopes: ['orders:read'] } }\ndefault: deny\nforward:\n  claims_to_headers: { x-jwt-sub: sub, x-jwt-tenant: tenant }\n");
    std::fs::write(dir.join("config.yaml"), &config)?;
    std::fs::write(
        dir.join("config-nocache.yaml"),
        config.replace("jwt:\n", "jwt:\n  cache: { max_entries: 0 }\n"),
    )?;
    let now = jwt_authz::authz::unix_now();
    let claims = format!(
        r#"{{"iss":"https://issuer.example.com","sub":"3f1c2a9e-7b1d-4c55-9a0e-2d4f6b8c1e7a","aud":"orders-api","exp":{},"iat":{now},"scope":"orders:read orders:write profile","tenant":"acme"}}"#,
        now + 86_400
    );
    let token = sign_compact(
        Algorithm::HS256,
        &KEY,
        r#"{"alg":"HS256","typ":"JWT","kid":"bench-2026-11"}"#,
        &claims,
    );
    std::fs::write(dir.join("token.txt"), &token)?;
    std::fs::write(
        dir.join("allow.grpc"),
        framed(&envoy_like_request(Some(&token))),
    )?;
    for (file, key, alg, kid) in [
        ("allow-rs256.grpc", &rsa, Algorithm::RS256, "rsa-2026-11"),
        ("allow-es256.grpc", &ec, Algorithm::ES256, "ec-2026-11"),
    ] {
        let header = format!(r#"{{"alg":"{}","typ":"JWT","kid":"{kid}"}}"#, alg.name());
        let token = sign_with(key, alg, &header, &claims);
        std::fs::write(dir.join(file), framed(&envoy_like_request(Some(&token))))?;
    }
    std::fs::write(dir.join("deny.grpc"), framed(&envoy_like_request(None)))?;
    Ok(())
}

async fn verify(addr: &str, dir: &Path, noop: bool) -> Result<()> {
    let mut client = AuthorizationClient::connect(format!("http://{addr}")).await?;
    for (file, expected) in [
        ("allow.grpc", 0),
        ("allow-rs256.grpc", 0),
        ("allow-es256.grpc", 0),
        ("deny.grpc", if noop { 0 } else { 16 }),
    ] {
        let bytes = std::fs::read(dir.join(file))?;
        let req = CheckRequest::decode(&bytes[5..])?;
        let code = client
            .check(req)
            .await?
            .into_inner()
            .status
            .unwrap_or_default()
            .code;
        if code != expected {
            return Err(format!("{addr}: {file} answered code {code}, expected {expected}").into());
        }
    }
    Ok(())
}

async fn upstream(addr: &str) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let app = axum::Router::new().fallback(|| async { "ok\n" });
    axum::serve(listener, app).await?;
    Ok(())
}

fn envoy_configs(
    dir: &Path,
    authz_port: &str,
    upstream_port: &str,
    noop_port: Option<&str>,
) -> Result<()> {
    let published: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/envoy/envoy.yaml");
    let published = std::fs::read_to_string(published)?;
    let bootstrap = |authz: &str| {
        published
            .replace("port_value: 9191", &format!("port_value: {authz}"))
            .replace("port_value: 8000", &format!("port_value: {upstream_port}"))
            .replace("port_value: 8080", "port_value: 18080")
            .replace("port_value: 9901", "port_value: 19901")
    };
    let text = bootstrap(authz_port);
    std::fs::write(dir.join("envoy-with.yaml"), &text)?;
    // The same filter calling the no-op server: Envoy's own share of the ext_authz hop.
    if let Some(port) = noop_port {
        std::fs::write(dir.join("envoy-noop.yaml"), bootstrap(port))?;
    }
    // The same bootstrap without the ext_authz filter: the baseline for the added latency.
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let hcm = &mut doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    let filters = hcm["http_filters"]
        .as_sequence_mut()
        .ok_or("no http_filters")?;
    filters.retain(|f| f["name"] != "envoy.filters.http.ext_authz");
    std::fs::write(dir.join("envoy-without.yaml"), serde_yaml::to_string(&doc)?)?;
    Ok(())
}
