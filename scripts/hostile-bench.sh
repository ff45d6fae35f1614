#!/usr/bin/env bash
# Hostile-load report (BENCHMARKS.md "Hostile load"): the release jwt-authz under each attack of
# the hostile-load review, with the latency of legitimate Checks measured meanwhile. Prints a
# Markdown table. A report, not a test: run it on a quiet machine and read the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --locked --bin jwt-authz --example hostile_load
exec target/release/examples/hostile_load target/release/jwt-authz
