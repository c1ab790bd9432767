# Sourced by the other scripts: make sure .venv exists and has the project installed (with EXTRAS, if set).
# Re-installs only when pyproject.toml changed since the last install, so repeated runs start fast.
set -euo pipefail
PY=${PYTHON:-python3}
# Every step that may take more than a few seconds says so first (on stderr): a silent minute looks hung.
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating the virtual environment .venv (once) ..." >&2
  "$PY" -m venv .venv
fi
stamp=".venv/.campaign-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing campaign${EXTRAS:+ with [$EXTRAS]} and its dependencies into .venv" \
    "(about a minute the first time; again only when pyproject.toml changes) ..." >&2
  started=$SECONDS
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}" 2>&1 \
    | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import campaign.cli" # fail here, clearly, if the install did not work
  touch "$stamp"
  echo "setup: installed in $((SECONDS - started)) s" >&2
fi
# Bytecode for the package, as installing a wheel leaves it: the editable install leaves none, and with
# PYTHONDONTWRITEBYTECODE set (CI images often set it) every command would compile campaign from source
# (~100 ms of `campaign preview`). Only changed files are compiled again: well under a second.
.venv/bin/python -m compileall -q campaign >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
