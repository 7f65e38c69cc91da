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

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "bootstrap: Python 3.11 or newer is required ($PY is $($PY --version 2>&1))" >&2; exit 1; }

need_pkg mosquitto mosquitto
for extra in "$@"; do
  case "$extra" in
    mbpoll) need_pkg mbpoll mbpoll || true ;;
    systemd-analyze) need_pkg systemd-analyze systemd || true ;;
    postgres) command -v pg_ctlcluster >/dev/null 2>&1 || need_pkg pg_ctlcluster postgresql || true ;;
  esac
done

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$VENV/bin/python" -m pip install -q -e '.[edge,collector,sim,test]'
  touch "$stamp"
fi
