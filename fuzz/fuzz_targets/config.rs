//! Config YAML: any text is accepted with a valid Config or refused with an error, never a panic.
//! An accepted policy then selects rules for a few requests (templates, header conditions,
//! peers, CIDRs, a CORS preflight): never a panic, and a template's captures are one per
//! capture name.
#![no_main]

use jwt_authz::policy::{PathMatch, Selection};
use jwt_authz::request::Synthetic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) =
        jwt_authz::config::Config::from_yaml(text, std::path::Path::new("/fuzz/config.yaml"))
    else {
        return;
    };
    for (method, path) in [
        ("GET", "/tenants/acme/orders/1"),
        ("POST", "/v1/x"),
        ("OPTIONS", "/a/b/c"),
        ("GET", "/"),
    ] {
        let mut req = Synthetic::new(method, path, "api.example.com");
        req.header("x-api-version", "2")
            .header("origin", "https://a.example")
            .header("access-control-request-method", "POST");
        req.principal = "spiffe://cluster.local/ns/shop/sa/web".into();
        req.source_address = "10.1.2.3".into();
        let view = req.view();
        let Ok(normalized) = jwt_authz::policy::normalize(path, &config.policy.paths) else {
            continue;
        };
        let (selection, captures) = config.policy.select(None, &view, &normalized);
        if let Selection::Rule(rule) = selection {
            if let PathMatch::Template(t) = &rule.matcher.path {
                assert_eq!(captures.len(), t.params.len(), "one capture per name");
            }
        }
        let _ = jwt_authz::authz::decide(&view, &config, &Default::default(), 1_800_000_000);
    }
});
