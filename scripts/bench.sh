#!/usr/bin/env bash
# Runs every benchmark under tests/benchmarks/ and prints its ratios. `--quick` uses reduced sizes (CI proves
# the benchmarks work); without it they run at the sizes the issues name. Benchmarks print, they never assert
# on time: the machine is shared and noisy, so only ratios measured in one run are meaningful.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
status=0
for bench in tests/benchmarks/bench_*.py; do
  echo "-- $bench $*"
  python "$bench" "$@" || { echo "benchmark failed: $bench" >&2; status=1; }
done
exit $status
