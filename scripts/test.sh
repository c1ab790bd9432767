#!/usr/bin/env bash
# The whole test suite on a fresh machine (Python 3.11 and the package registries): installs the Python
# packages, the Node reference implementations and the reference Bluesky server, PostgreSQL and Chromium; starts
# the servers on loopback; runs lint, type checks, the tests and the benchmarks at reduced size; stops the servers.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k fit`).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test source scripts/venv.sh
source scripts/provision.sh
trap provision_stop EXIT
provision_start
echo "== ruff" && ruff check campaign tests
echo "== mypy" && mypy
echo "== pytest" && pytest -q -p no:cacheprovider "$@"
if [ $# -eq 0 ]; then
  echo "== benchmarks (reduced sizes; full size: bash scripts/bench.sh)"
  bash scripts/bench.sh --quick
fi
