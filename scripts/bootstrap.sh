#!/usr/bin/env bash
# Create or update the project's virtual environment and make sure the system pieces exist.
# Used by `make test` and `make demo`; safe to run again (it only does what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

need_pkg() {  # need_pkg COMMAND DEBIAN_PACKAGE
  if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing $2 (apt-get)" >&2
    if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "bootstrap: '$1' is missing: install the Debian package '$2' (sudo apt-get install $2)" >&2
    return 1
  fi
}

# PostgreSQL for the collector's store tests: installed when missing, started when stopped, and
# reachable over loopback as the `postgres` role (trust on 127.0.0.1, as on the CI machines).
ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    need_pkg pg_ctlcluster postgresql || return 1
  fi
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  if [ -z "$(pg_lsclusters -h 2>/dev/null)" ] && [ "$(id -u)" = 0 ]; then
    pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >/dev/null
  fi
  pg_lsclusters -h | while read -r ver name port status _; do
    hba="/etc/postgresql/$ver/$name/pg_hba.conf"
    if [ "$(id -u)" = 0 ] && [ -f "$hba" ] && ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127.0.0.1/32[[:space:]]+trust' "$hba"; then
      sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
      [ "$status" = online ] && pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >/dev/null 2>&1 || true
    fi
    if [ "$status" != online ]; then
      echo "bootstrap: starting PostgreSQL $ver/$name" >&2
      if [ "$(id -u)" = 0 ]; then
        pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
      else
        echo "bootstrap: PostgreSQL $ver/$name is stopped: start it (sudo pg_ctlcluster $ver $name start)" >&2
      fi
    fi
  done
}

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "bootstrap: Python 3.11 or newer is required ($PY is $($PY --version 2>&1))" >&2; exit 1; }

need_pkg mosquitto mosquitto
for extra in "$@"; do
  case "$extra" in
    mbpoll) need_pkg mbpoll mbpoll || true ;;
    systemd-analyze) need_pkg systemd-analyze systemd || true ;;
    tmux) need_pkg tmux tmux || true ;;
    postgres) ensure_postgres || true ;;
    chromium) need_pkg chromium chromium || true ;;
  esac
done

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log="$VENV/install.log"
  echo "bootstrap: installing the project and its dependencies into $VENV (log: $log)" >&2
  if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
         "$VENV/bin/python" -m pip install -e '.[edge,collector,sim,test]'; } >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "bootstrap: pip install failed (full log: $log)" >&2
    exit 1
  fi
  touch "$stamp"
fi
