#!/usr/bin/env bash
# The main job on the embedded default: the example campaign derived from the HKSTP release, rehearsed end to
# end in dry-run on a simulated clock (nothing is sent; a throwaway SQLite queue).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
echo "demo: rehearsing schedules/hkstp-innovation-mixer-us.yaml on a simulated clock (dry run, sends nothing)" >&2
exec campaign simulate schedules/hkstp-innovation-mixer-us.yaml "$@"
