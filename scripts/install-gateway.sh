#!/usr/bin/env bash
# Install the smart-elevator edge agent on a Raspberry Pi OS / Debian gateway. Idempotent: run it
# again to upgrade or repair; it only changes what differs.
#
#   sudo scripts/install-gateway.sh [--config FILE] [--root DIR] [--prefix /opt/smart-elevator]
#                                   [--no-enable] [--pip-args "..."]
#
# It creates the service user `elev-agent` (groups dialout, gpio), a virtual environment under
# the prefix with the agent installed from this source tree, the configuration directory
# /etc/smart-elevator (config mode 0640 root:elev-agent), the systemd unit, and enables it.
# --root installs into a scratch root (used by the tests and for preparing SD-card images):
# users are created with useradd --root and the unit is enabled with systemctl --root.
set -euo pipefail

ROOT=""
PREFIX=/opt/smart-elevator
CONFIG=""
ENABLE=1
PIP_ARGS=""
SRC="$(cd "$(dirname "$0")/.." && pwd)"

die() { echo "install-gateway: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --config) CONFIG="${2:?--config needs a file}"; shift 2 ;;
    --no-enable) ENABLE=0; shift ;;
    --pip-args) PIP_ARGS="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo $0 ...)"
[ -z "$CONFIG" ] || [ -r "$CONFIG" ] || die "cannot read the configuration file '$CONFIG'"
command -v python3 >/dev/null || die "python3 is missing: apt-get install python3 python3-venv"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is required"

R="${ROOT%/}"
ETC="$R/etc/smart-elevator"
UNIT_DIR="$R/etc/systemd/system"
VENV="$R$PREFIX/venv"
ROOT_ARGS=()
[ -n "$R" ] && ROOT_ARGS=(--root "$R")

say() { echo "install-gateway: $*"; }

# 1. Service user and groups (gpio exists on Raspberry Pi OS; create it elsewhere).
getent_in_root() {  # getent_in_root DB NAME
  if [ -n "$R" ]; then grep -q "^$2:" "$R/etc/$1" 2>/dev/null; else getent "$1" "$2" >/dev/null; fi
}
for g in dialout gpio; do
  getent_in_root group "$g" || { groupadd "${ROOT_ARGS[@]}" --system "$g"; say "created group $g"; }
done
if ! getent_in_root passwd elev-agent; then
  useradd "${ROOT_ARGS[@]}" --system --user-group --no-create-home --home-dir /var/lib/smart-elevator \
    --shell /usr/sbin/nologin --groups dialout,gpio elev-agent 2>/dev/null
  say "created user elev-agent (groups dialout, gpio)"
else
  usermod "${ROOT_ARGS[@]}" -a -G dialout,gpio elev-agent
fi

# 2. Virtual environment with the agent (edge extra only: no collector or test dependencies).
mkdir -p "$R$PREFIX"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  say "created virtual environment $PREFIX/venv"
fi
stamp="$VENV/.smart-elevator-source"
want="$(cd "$SRC" && { git rev-parse HEAD 2>/dev/null || echo nogit; } ; cat setup.cfg | sha256sum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q $PIP_ARGS "$SRC[edge]" >"$R$PREFIX/install.log" 2>&1 ||
    { tail -20 "$R$PREFIX/install.log" >&2; die "pip install failed (log: $PREFIX/install.log)"; }
  printf '%s' "$want" > "$stamp"
  say "installed smart-elevator into $PREFIX/venv"
fi
mkdir -p "$R$PREFIX/src/docs"
cp -r "$SRC/docs/." "$R$PREFIX/src/docs/" 2>/dev/null || true

# 3. Configuration under /etc, readable by the service user only.
agent_gid() {
  if [ -n "$R" ]; then awk -F: '$1=="elev-agent"{print $3}' "$R/etc/group"; else getent group elev-agent | cut -d: -f3; fi
}
install -d -m 0750 -o root -g "$(agent_gid)" "$ETC"
if [ -n "$CONFIG" ]; then
  if ! cmp -s "$CONFIG" "$ETC/agent.toml"; then
    install -m 0640 -o root -g "$(agent_gid)" "$CONFIG" "$ETC/agent.toml"
    say "installed configuration /etc/smart-elevator/agent.toml"
  fi
elif [ ! -f "$ETC/agent.toml" ]; then
  say "no --config given: put the gateway's configuration in /etc/smart-elevator/agent.toml"
  say "  (or drop smart-elevator.toml on the SD card's boot partition; it is picked up on first start)"
fi

# 4. The systemd unit (paths follow --prefix), enabled for the next boot.
install -d "$UNIT_DIR"
unit_tmp="$(mktemp)"
sed "s#/opt/smart-elevator#$PREFIX#g" "$SRC/systemd/elev-agent.service" > "$unit_tmp"
if ! cmp -s "$unit_tmp" "$UNIT_DIR/elev-agent.service"; then
  install -m 0644 "$unit_tmp" "$UNIT_DIR/elev-agent.service"
  say "installed unit elev-agent.service"
  [ -n "$R" ] || systemctl daemon-reload
fi
rm -f "$unit_tmp"
if [ "$ENABLE" = 1 ]; then
  if [ -n "$R" ]; then
    systemctl --root="$R" enable elev-agent.service >/dev/null 2>&1 || die "systemctl --root enable failed"
  else
    systemctl enable elev-agent.service >/dev/null 2>&1 || die "systemctl enable failed"
  fi
  say "elev-agent.service enabled"
fi
say "done"
