#!/usr/bin/env bash
# Load benchmark: jwt-authz against a no-op ext_authz server on the same tonic stack, driven by
# h2load over h2c with pre-framed CheckRequests, then Envoy with and without the ext_authz
# filter. Writes a Markdown report to target/bench/report.md. See BENCHMARKS.md.
#   scripts/bench.sh            full run (~7 minutes)
#   QUICK=1 scripts/bench.sh    fewer requests, one round (a smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v h2load >/dev/null || { echo "h2load missing: apt-get install nghttp2-client"; exit 1; }
ENVOY_BIN="${ENVOY_BIN:-.tools/venv/bin/envoy}"
[ -x "$ENVOY_BIN" ] || { echo "Envoy missing: run scripts/test.sh once (it installs .tools/)"; exit 1; }
cargo build --release --locked --bin jwt-authz --example noop_server --example bench_tool
exec python3 scripts/bench.py --envoy "$ENVOY_BIN" "$@"
