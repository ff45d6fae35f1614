//! The policy of the second round of rules (tests/rules.rs, tests/rules_docs.rs): a deny rule,
//! a tenant-bound template with a negated requirement, peers, CIDRs and a header condition.

/// The policy, appended to `Fixture::basic_config`.
pub const POLICY: &str = r#"
rules:
  - name: preflight-check
    match: { path: /cors }
  - name: legacy
    match: { path_prefix: /v1 }
    deny: true
  - name: tenant-orders
    match: { path_template: "/tenants/{tenant}/orders/**", methods: [GET, POST] }
    require:
      claims:
        - { claim: tenant_id, equals_param: tenant }
        - { not: { claim: status, equals: suspended } }
  - name: internal
    match:
      path_prefix: /internal
      peers: ["spiffe://cluster.local/ns/shop/sa/web", "spiffe://cluster.local/ns/ops/*"]
  - name: office
    match: { path_prefix: /office, source_ips: ["10.0.0.0/8", "fd00::/8"] }
  - name: v2
    match: { path_prefix: /api, headers: [{ name: X-Api-Version, equals: "2" }] }
default: deny
forward:
  claims_to_headers: { x-jwt-sub: sub }
"#;
