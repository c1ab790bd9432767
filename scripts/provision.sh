# Sourced by scripts/test.sh: installs and starts what the real-server tests need, on loopback only.
#   - npm packages: the reference implementations used as test oracles (tests/oracles), the reference
#     Bluesky PDS (tests/pds) and the peer raced by bench_tls.py (tests/benchmarks/peers), from the lock files;
#   - PostgreSQL (Debian's packages) in a throwaway data directory, as the `postgres` user (initdb refuses root);
#   - Chromium and its driver (Debian's packages) for the HTML preview's browser tests.
# provision_start exports CAMPAIGN_TEST_PG_URL; provision_stop stops the server and removes its data.
# Each step is skipped with a message when its tools cannot be had (no root, no node); under CI=true the tests
# that need them then fail rather than skip.

_apt_updated=""
_apt_install() {
  [ "$(id -u)" = 0 ] || { echo "provision: not root, cannot apt-get install $*" >&2; return 1; }
  if [ -z "$_apt_updated" ]; then
    echo "provision: apt-get update (the Debian package lists) ..." >&2
    apt-get update -qq >/dev/null && _apt_updated=1
  fi
  echo "provision: apt-get install $* (may take a minute) ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_npm_ci() {  # npm ci into DIR when its lock file is newer than its node_modules
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  command -v npm >/dev/null || { echo "provision: npm missing, skipping $dir" >&2; return 0; }
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "provision: npm ci --prefix $dir (installs from its lock file; may take a minute) ..." >&2
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
  fi
}

_free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PG_DATA=""
PG_BIN=""
_pg_start() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$PG_BIN" ]; then
    _apt_install postgresql || { echo "provision: PostgreSQL unavailable" >&2; return 0; }
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  local as=()
  if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
  PG_DATA=$(mktemp -d /tmp/campaign-pg.XXXXXX)
  chmod 700 "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
  echo "provision: starting a throwaway PostgreSQL in $PG_DATA ..." >&2
  "${as[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres --no-sync >/dev/null
  local port; port=$(_free_port)
  "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DATA -c fsync=off -c max_connections=200" start >/dev/null
  "${as[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres campaign_test
  export CAMPAIGN_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/campaign_test"
  echo "provision: PostgreSQL on 127.0.0.1:$port" >&2
}

provision_start() {
  _npm_ci tests/oracles
  _npm_ci tests/pds
  _npm_ci tests/benchmarks/peers  # crosspost, the reference in bench_tls.py
  _pg_start
  if [ -f scripts/provision-browser.sh ]; then bash scripts/provision-browser.sh || true; fi
}

provision_stop() {
  if [ -n "$PG_DATA" ] && [ -d "$PG_DATA" ]; then
    local as=()
    if [ "$(id -u)" = 0 ]; then as=(runuser -u postgres --); fi
    "${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DATA"
  fi
}
