#!/usr/bin/env bash
# Instructions per hot-path operation, counted by callgrind (repeatable, unlike wall time on a
# shared machine). Note: valgrind hides SHA-NI, so SHA-256 runs in software here and HMAC costs
# more than natively; the counts are for comparing versions, not for absolute speed.
#   scripts/instructions.sh            print the counts
#   scripts/instructions.sh --check    also fail when an operation exceeds benches/instructions.txt
#                                      by more than 10% (scripts/test.sh runs this: the guard that
#                                      keeps the hot path as cheap as BENCHMARKS.md says)
#   scripts/instructions.sh --update   rewrite benches/instructions.txt with the counts
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
baseline=benches/instructions.txt
cargo build -q --release --locked --example profile_hot_path
bin=target/release/examples/profile_hot_path
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
n=2000
failed=0
results=""
for op in extract verify verify_rs256 provider_rs256 bare_rs256 decide check hit bytes; do
  base=$(count "$op" 0); total=$(count "$op" "$n")
  per=$(( (total - base) / n ))
  results+="$op $per"$'\n'
  if [ "$mode" = --check ]; then
    limit=$(awk -v op="$op" '$1 == op {print $2}' "$baseline")
    [ -n "$limit" ] || { echo "no baseline for $op in $baseline"; exit 1; }
    verdict=ok
    if [ $(( per * 100 )) -gt $(( limit * 110 )) ]; then verdict="REGRESSION (> +10%)"; failed=1; fi
    printf '%-12s %8d instructions/op (baseline %d) %s\n' "$op" "$per" "$limit" "$verdict"
  else
    printf '%-12s %8d instructions/op\n' "$op" "$per"
  fi
done
if [ "$mode" = --update ]; then
  { echo "# op instructions/op: scripts/instructions.sh --update (callgrind, see BENCHMARKS.md)"; printf '%s' "$results"; } > "$baseline"
  echo "wrote $baseline"
fi
if [ "$failed" = 1 ]; then
  echo "the hot path got more expensive: find why (callgrind_annotate), or if it is worth it, run"
  echo "scripts/instructions.sh --update and say why in the commit message"
  exit 1
fi
