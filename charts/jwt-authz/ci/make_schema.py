#!/usr/bin/env python3
"""Writes ../values.schema.json (run from charts/jwt-authz/ci). scripts/test.sh checks the
committed file matches."""
import json

S = lambda **kw: {"type": "string", **kw}
I = lambda **kw: {"type": "integer", **kw}
B = {"type": "boolean"}
DUR = S(pattern=r"^([0-9]+(ms|s|m|h|d))+$", description="duration with units, e.g. 30s, 200ms, 1h30m")
STRMAP = {"type": "object", "additionalProperties": {"type": "string"}}
ANYOBJ = {"type": "object"}
LIST = {"type": "array"}
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]


def obj(props, required=(), additional=False, **kw):
    o = {"type": "object", "properties": props, "additionalProperties": additional, **kw}
    if required:
        o["required"] = list(required)
    return o


claim_req = {"oneOf": [
    obj({
        "claim": S(minLength=1), "equals": {}, "one_of": {"type": "array", "minItems": 1},
        "contains": {}, "prefix": S(), "exists": B, "equals_param": S(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"),
    }, required=["claim"], minProperties=2, maxProperties=2),
    obj({"not": {"$ref": "#/$defs/claim"}}, required=["not"]),
]}
header_cond = obj({"name": S(minLength=1), "equals": S(), "one_of": {"type": "array", "minItems": 1, "items": S()},
                   "prefix": S(), "exists": B}, required=["name"], minProperties=2, maxProperties=2)
require = obj({
    "scopes": {"type": "array", "items": S(minLength=1)},
    "claims": {"type": "array", "items": {"$ref": "#/$defs/claim"}},
    "any_of": {"type": "array", "items": {"$ref": "#/$defs/require"}},
})
rule = obj({
    "name": S(pattern=r"^[A-Za-z0-9._:-]{1,64}$"),
    "match": obj({
        "hosts": {"type": "array", "items": S(minLength=1)},
        "methods": {"type": "array", "items": S(pattern="^[A-Za-z]+$")},
        "path": S(pattern="^/"), "path_prefix": S(pattern="^/"), "path_regex": S(minLength=1),
        "path_template": S(pattern="^/"),
        "headers": {"type": "array", "items": header_cond},
        "peers": {"type": "array", "items": S(minLength=1)},
        "source_ips": {"type": "array", "items": S(minLength=1)},
    }),
    "public": B, "deny": B, "require": {"$ref": "#/$defs/require"}, "mode": {"enum": ["enforce", "shadow"]},
}, required=["name"])
source = obj({"header": S(minLength=1), "prefix": S(minLength=1), "cookie": S(minLength=1), "query": S(minLength=1)},
             minProperties=1)
config = obj({
    "reload": obj({"debounce": DUR, "poll_interval": DUR}),
    "jwt": obj({
        "issuers": {"type": "array", "items": S(minLength=1)},
        "audiences": {"type": "array", "items": S(minLength=1)},
        "leeway": DUR, "require_exp": B, "require_kid": B, "max_lifetime": {"oneOf": [DUR, {"type": "null"}]},
        "cache": obj({"max_entries": I(minimum=0, maximum=1000000)}),
        "max_token_bytes": I(minimum=64, maximum=65536),
        "sources": {"type": "array", "minItems": 1, "items": source},
    }),
    "rules": {"type": "array", "items": rule},
    "default": {"enum": ["deny", "allow"]},
    "cors_preflight": {"enum": ["deny", "allow"]},
    "paths": obj({"parameters": {"enum": ["reject", "strip"]}, "case_insensitive": B}),
    "forward": obj({
        "claims_to_headers": STRMAP, "payload_header": {"type": ["string", "null"]}, "strip_token": B,
        "metadata_claims": {"type": "array", "items": S(minLength=1)},
        "max_value_bytes": I(minimum=16, maximum=65536),
    }),
    "responses": obj({"realm": S(minLength=1, pattern=r'^[ -!#-\[\]-~]+$'), "expose_reason": B}),
    "limits": obj({
        **{k: I(minimum=1) for k in [
            "max_in_flight", "max_header_bytes", "max_claims_bytes", "max_claims_depth",
            "max_keys_per_source", "max_key_file_bytes", "max_source_bytes", "max_message_bytes",
            "max_buffered_bytes", "max_concurrent_streams", "max_connections", "max_reset_streams",
            "max_health_watches", "admin_max_connections"]},
        **{k: DUR for k in [
            "request_timeout", "keepalive_interval", "keepalive_timeout", "handshake_timeout",
            "max_connection_age", "admin_header_timeout"]},
    }),
    "shutdown_grace": DUR,
    "tests": {"type": "array", "items": obj({
        "name": S(minLength=1),
        "request": obj({
            "method": S(pattern="^[A-Za-z]+$"), "path": S(pattern="^/"), "host": S(minLength=1),
            "headers": STRMAP, "peer": {"type": ["string", "null"]}, "source_ip": {"type": ["string", "null"]},
            "context_extensions": STRMAP,
        }, required=["path"]),
        "claims": {"type": ["object", "null"]},
        "expect": obj({"decision": {"enum": ["allow", "deny"]}, "rule": S(minLength=1), "reason": S(pattern="^[a-z_]+$")},
                      required=["decision"]),
    }, required=["name", "request", "expect"])},
}, description="jwt-authz configuration without listen and keys (set by the chart)")

remote = obj({
    **{k: DUR for k in ["refresh_interval", "min_refresh", "max_refresh", "timeout",
                        "unknown_kid_cooldown", "unknown_kid_wait", "max_stale"]},
    "ca_file": S(pattern="^/"), "cache_dir": S(pattern="^/"), "allow_http": B,
    "max_bytes": {"oneOf": [I(minimum=1024), S(pattern=r"^[0-9]+ ?(B|KiB|MiB)?$")]},
})
provider = obj({
    "name": S(pattern=r"^[a-z0-9-]{1,32}$"), "issuer": S(minLength=1),
    "audiences": {"type": "array", "items": S(minLength=1)},
    "discovery": B, "jwks_uri": S(pattern="^https?://"), "remote": remote,
}, required=["name", "issuer"], description="an identity provider; in the chart its keys are fetched (discovery or jwks_uri)")
provider["oneOf"] = [{"required": ["discovery"], "properties": {"discovery": {"const": True}}, "not": {"required": ["jwks_uri"]}},
                     {"required": ["jwks_uri"], "not": {"properties": {"discovery": {"const": True}}, "required": ["discovery"]}}]

probe = obj({"periodSeconds": I(minimum=1), "timeoutSeconds": I(minimum=1), "failureThreshold": I(minimum=1),
             "initialDelaySeconds": I(minimum=0), "successThreshold": I(minimum=1)})
monitor = obj({"enabled": B, "interval": DUR, "labels": STRMAP})

schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "jwt-authz Helm values",
    "$defs": {"require": require, "claim": claim_req},
    **obj({
        "mode": {"enum": ["standalone", "sidecar"]},
        "image": obj({"repository": S(minLength=1), "tag": S(), "digest": S(pattern=r"^(sha256:[a-f0-9]{64})?$"),
                      "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}, required=["repository"]),
        "imagePullSecrets": {"type": "array", "items": obj({"name": S(minLength=1)}, required=["name"])},
        "nameOverride": S(), "fullnameOverride": S(),
        "replicaCount": I(minimum=0),
        "keys": obj({
            "existingSecret": S(), "existingConfigMap": S(), "create": B, "values": STRMAP,
            "format": {"enum": ["files", "jwks"]}, "encoding": {"enum": ["raw", "base64", "pem"]},
            "algorithm": {"enum": ALGS},
            "jwksDefaultAlgorithm": {"enum": ["", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]},
            "mountPath": S(pattern="^/"), "defaultMode": I(minimum=0, maximum=511),
        }),
        "providers": {"type": "array", "items": provider},
        "providersCA": obj({"existingConfigMap": S(), "key": S(minLength=1), "mountPath": S(pattern="^/")}),
        "providersCache": obj({"enabled": B, "mountPath": S(pattern="^/"), "sizeLimit": S(minLength=1)}),
        "config": config,
        "ports": obj({"grpc": I(minimum=1, maximum=65535), "admin": I(minimum=1, maximum=65535)}),
        "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "annotations": STRMAP}),
        "logging": obj({"format": {"enum": ["json", "text"]}, "level": S(minLength=1)}),
        "sidecar": obj({"exposeAdmin": B, "unixSocket": B, "socketDir": S(pattern="^/")}),
        "resources": ANYOBJ, "podSecurityContext": ANYOBJ, "securityContext": ANYOBJ,
        "serviceAccount": obj({"create": B, "name": S(), "annotations": STRMAP}),
        "podAnnotations": STRMAP, "podLabels": STRMAP, "nodeSelector": STRMAP,
        "tolerations": LIST, "affinity": ANYOBJ, "priorityClassName": S(),
        "terminationGracePeriodSeconds": I(minimum=1),
        "topologySpread": obj({"enabled": B, "maxSkew": I(minimum=1),
                               "whenUnsatisfiable": {"enum": ["ScheduleAnyway", "DoNotSchedule"]}}),
        "probes": obj({"liveness": probe, "readiness": probe}),
        "podDisruptionBudget": obj({"enabled": B, "minAvailable": {"type": ["integer", "string"]}}),
        "autoscaling": obj({"enabled": B, "minReplicas": I(minimum=1), "maxReplicas": I(minimum=1),
                            "targetCPUUtilizationPercentage": I(minimum=1, maximum=100)}),
        "networkPolicy": obj({"enabled": B, "grpcFrom": {"type": "array", "items": ANYOBJ},
                              "adminFrom": {"type": "array", "items": ANYOBJ},
                              "providerEgress": obj({"dns": B, "ports": {"type": "array", "items": ANYOBJ},
                                                     "to": {"type": "array", "items": ANYOBJ}})}),
        "metrics": obj({
            "serviceMonitor": monitor, "podMonitor": monitor,
            "prometheusRule": obj({"enabled": B, "labels": STRMAP}),
            "dashboard": obj({"enabled": B, "labels": STRMAP, "annotations": STRMAP}),
        }),
        "tests": obj({"enabled": B}),
        "global": ANYOBJ,
    }),
}

with open("../values.schema.json", "w") as f:
    json.dump(schema, f, indent=2)
    f.write("\n")
