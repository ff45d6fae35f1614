#!/usr/bin/env bash
# Instructions per hot-path operation, counted by callgrind (repeatable, unlike wall time on a
# shared machine). Note: valgrind hides SHA-NI, so SHA-256 runs in software here and HMAC costs
# more than natively; the counts are for comparing versions, not for absolute speed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --example profile_hot_path
bin=target/release/examples/profile_hot_path
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
n=2000
for op in extract verify decide check bytes; do
  base=$(count "$op" 0); total=$(count "$op" "$n")
  printf '%-8s %8d instructions/op\n' "$op" $(( (total - base) / n ))
done
