//! `jwt-authz explain`: runs the exact Check logic on a synthetic request shaped like Envoy's
//! and prints the decision, the reason, the rule and what would be sent to Envoy.

use std::process::ExitCode;

use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::CheckResponse;

use super::{say, CommandError, Output};
use crate::authz::{build_explained, decide, unix_now, AllowKind, Decision};
use crate::cli::ExplainArgs;
use crate::config::Config;
use crate::keys;
use crate::policy::RULE_EXTENSION;
use crate::request::Synthetic;

/// Exit status for a deny.
const DENY: u8 = 3;

/// Prints the decision; exit 0 on allow, 3 on deny.
pub fn run(args: &ExplainArgs) -> Result<ExitCode, CommandError> {
    let config = Config::load(&args.config.config)?;
    let mut sets = keys::load_ring(&config.keys, &config.limits)?
        .sets()
        .to_vec();
    for f in crate::providers::once::fetch_all(&config) {
        let name = &config.jwt.providers[f.provider].name;
        match f.result {
            Ok((set, _, _)) => sets.push((f.provider, set)),
            Err(e) => eprintln!(
                "warning: provider {name}: cannot fetch its keys ({e}): its tokens are undecidable"
            ),
        }
    }
    let keys = keys::KeyRing::from_sets(sets)?;
    let mut req = Synthetic::new(&args.method, &args.path, &args.host);
    if let Some(token) = &args.token {
        req.token(&config.jwt.sources, token);
    }
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            return Err(CommandError::Other(format!(
                "--header {h:?}: write name:value"
            )));
        };
        req.header(&name.trim().to_ascii_lowercase(), value.trim_start());
    }
    if let Some(peer) = &args.peer {
        req.principal = peer.clone();
    }
    if let Some(ip) = &args.source_ip {
        req.source_address = ip.clone();
    }
    if let Some(rule) = &args.rule {
        req.context_extensions
            .push((RULE_EXTENSION.to_string(), rule.clone()));
    }
    let view = req.view();
    let mut out = Output::default();
    let Ok(decision) = decide(&view, &config, &keys, unix_now()) else {
        say!(
            out,
            "decision: unavailable (no verification key loaded: Envoy would apply status_on_error)"
        );
        out.emit()?;
        return Ok(ExitCode::FAILURE);
    };
    print_decision(&mut out, &decision);
    print_params(&mut out, &view, &config, &decision);
    let (response, omitted) = build_explained(&decision, &view, &config);
    print_response(&mut out, &response);
    for o in omitted {
        say!(
            out,
            "not forwarded: {} ({}: the claim is present but cannot be forwarded faithfully)",
            config.forward.claims_to_headers[o.header].0,
            o.why.as_label()
        );
    }
    out.emit()?;
    Ok(match decision {
        Decision::Allow(_) => ExitCode::SUCCESS,
        Decision::Deny(_) => ExitCode::from(DENY),
    })
}

fn print_decision(out: &mut Output, decision: &Decision<'_, '_>) {
    match decision {
        Decision::Allow(a) => {
            say!(out, "decision: allow");
            match &a.kind {
                AllowKind::Token => say!(out, "reason:   ok (valid token{})", if a.rule.is_some() { ", rule requirements met" } else { "" }),
                AllowKind::Public if a.rule.is_none() => say!(out, "reason:   public (a CORS preflight: cors_preflight: allow)"),
                AllowKind::Public => say!(out, "reason:   public (the rule needs no token)"),
                AllowKind::Shadow(d) => say!(out,
                    "reason:   shadow (would deny: {} - {}; allowed because the rule is in shadow mode)",
                    d.reason, d.detail
                ),
            }
            say!(
                out,
                "rule:     {}",
                a.rule.map_or("(none)", |r| r.name.as_str())
            );
            if let Some(t) = &a.token {
                say!(
                    out,
                    "kid:      {} ({}, fingerprint {})",
                    t.key.kid,
                    t.key.alg,
                    t.key.fingerprint
                );
            }
        }
        Decision::Deny(d) => {
            say!(out, "decision: deny");
            say!(out, "reason:   {} ({})", d.reason, d.detail);
            say!(
                out,
                "rule:     {}",
                d.rule.map_or("(none)", |r| r.name.as_str())
            );
            if let Some(key) = d.key {
                say!(
                    out,
                    "kid:      {} ({}, fingerprint {})",
                    key.kid,
                    key.alg,
                    key.fingerprint
                );
            }
        }
    }
}

/// The segments the rule's path template captured (what `equals_param` compares with).
fn print_params(
    out: &mut Output,
    view: &crate::request::RequestView<'_>,
    config: &Config,
    decision: &Decision<'_, '_>,
) {
    let rule = match decision {
        Decision::Allow(a) => a.rule,
        Decision::Deny(d) => d.rule,
    };
    let Some(crate::policy::PathMatch::Template(t)) = rule.map(|r| &r.matcher.path) else {
        return;
    };
    let Ok(path) = crate::policy::normalize(view.path, &config.policy.paths) else {
        return;
    };
    let captures = t.matches(&path).unwrap_or_default();
    let pairs: Vec<String> = t
        .params
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{name}={}", captures.get(&path, i).unwrap_or("(none)")))
        .collect();
    say!(out, "params:   {}", pairs.join(" "));
}

fn print_response(out: &mut Output, resp: &CheckResponse) {
    let code = resp.status.as_ref().map_or(0, |s| s.code);
    say!(out, "grpc:     {code}");
    match &resp.http_response {
        Some(HttpResponse::DeniedResponse(d)) => {
            say!(
                out,
                "http:     {}",
                d.status.as_ref().map_or(403, |s| s.code)
            );
            say!(out, "response headers:");
            for h in d.headers.iter().filter_map(|h| h.header.as_ref()) {
                say!(out, "  {}: {}", h.key, h.value);
            }
            if !d.body.is_empty() {
                say!(out, "body:     {}", d.body);
            }
        }
        Some(HttpResponse::OkResponse(ok)) => {
            say!(out, "upstream headers set (overwrite):");
            for h in ok.headers.iter().filter_map(|h| h.header.as_ref()) {
                say!(out, "  {}: {}", h.key, h.value);
            }
            if !ok.headers_to_remove.is_empty() {
                say!(
                    out,
                    "upstream headers removed: {}",
                    ok.headers_to_remove.join(", ")
                );
            }
            if !ok.query_parameters_to_remove.is_empty() {
                say!(
                    out,
                    "query parameters removed: {}",
                    ok.query_parameters_to_remove.join(", ")
                );
            }
        }
        _ => {}
    }
    if let Some(md) = &resp.dynamic_metadata {
        let mut keys: Vec<_> = md.fields.keys().collect();
        keys.sort();
        let pairs: Vec<String> = keys
            .into_iter()
            .map(|k| format!("{k}={}", render(&md.fields[k])))
            .collect();
        say!(out, "metadata: {}", pairs.join(" "));
    }
}

fn render(v: &envoy_types::pb::google::protobuf::Value) -> String {
    use envoy_types::pb::google::protobuf::value::Kind;
    match &v.kind {
        Some(Kind::StringValue(s)) => s.clone(),
        Some(Kind::NumberValue(n)) => n.to_string(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => "null".into(),
    }
}
