# Sourced by the other scripts: make sure .venv exists and has the project installed (with EXTRAS, if set).
# Re-installs only when pyproject.toml changed since the last install, so repeated runs start fast.
set -euo pipefail
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.campaign-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}" 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import campaign.cli" # fail here, clearly, if the install did not work
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
