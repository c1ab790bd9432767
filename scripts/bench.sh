#!/usr/bin/env bash
# Runs every benchmark under tests/benchmarks/ and ends with a summary of their targets. `--quick` uses reduced
# sizes (CI proves the benchmarks work); without it they run at the sizes the issues name.
# Each benchmark prints every target as one line (tests/benchmarks/targets.py):
#   TARGET <name>: <measured> vs <bound> ... met|NOT met      SKIP <name>: <why>
# The summary counts them. Benchmarks report, they do not gate: a missed target never fails this script (the
# machine is shared and noisy), but a benchmark that crashes (non-zero exit) does.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
crashed=()
for bench in tests/benchmarks/bench_*.py; do
  name=$(basename "$bench" .py)
  echo "-- $bench $*"
  rc=0
  python "$bench" "$@" | tee "$out/$name.log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "benchmark failed: $bench (exit $rc)" >&2
    crashed+=("$name (exit $rc)")
  fi
done

lines() { grep -h "$1" "$out"/*.log || true; }
met=$(lines '^TARGET .* \.\.\. met$')
missed=$(lines '^TARGET .* \.\.\. NOT met$')
skipped=$(lines '^SKIP ')
count() { if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi; }
# "a; b" from "TARGET a: ..." lines; "a: why; ..." from "SKIP a: why" lines (names never contain ": ").
names() { printf '%s\n' "$1" | awk '{ sub(/^TARGET /, ""); print substr($0, 1, index($0, ": ") - 1) }' | join; }
reasons() { printf '%s\n' "$1" | sed 's/^SKIP //' | join; }
join() { paste -sd ';' - | sed 's/;/; /g'; }
echo
echo "== benchmark summary"
[ -n "$missed" ] && printf '%s\n' "$missed"
[ -n "$skipped" ] && printf '%s\n' "$skipped"
summary="$(count "$met") targets met, $(count "$missed") NOT met"
[ -n "$missed" ] && summary+=" ($(names "$missed"))"
summary+=", $(count "$skipped") skipped"
[ -n "$skipped" ] && summary+=" ($(reasons "$skipped"))"
echo "$summary"
if [ ${#crashed[@]} -gt 0 ]; then
  echo "benchmarks that crashed: ${crashed[*]}" >&2
  exit 1
fi
