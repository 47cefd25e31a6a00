#!/usr/bin/env bash
# Sets up and runs the whole test suite on a fresh machine:
#   Debian packages (PostgreSQL; Qt's runtime libraries and Xvfb; coturn, nftables; janus) → .venv with the project and its dev tools →
#   a throwaway PostgreSQL cluster → ruff → mypy --strict → pytest (SQLite and PostgreSQL).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# install_missing WHAT CONSEQUENCE PACKAGE…: apt-get the packages not installed yet.
install_missing() {
  local what=$1 consequence=$2 missing
  shift 2
  missing=$(for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  [ -z "$missing" ] && return 0
  log "installing $what from Debian's packages"
  as_root apt-get update -qq || true
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null \
    || echo "could not install: $missing ($consequence)"
}

find_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(find_pg_bin)" ]; then
  log "installing PostgreSQL from Debian's packages"
  as_root apt-get update -qq || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || echo "could not install PostgreSQL; its tests will be skipped (CI fails instead)"
fi

# Qt (PySide6 wheels) needs these system libraries; QtMultimedia needs libpulse0 even with
# no sound server; Xvfb and the xcb libraries serve the screenshot script; PulseAudio's null
# sinks are the speaker and microphone of the Qt device backend's test.
QT_PACKAGES="libpulse0 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core pulseaudio
  xdg-utils"
# shellcheck disable=SC2086
install_missing "Qt's system libraries and Xvfb" "the Qt tests will fail" $QT_PACKAGES
export QT_QPA_PLATFORM=offscreen

# The network tests (tests/net) build NATs and firewalls from namespaces (iproute2,
# nftables) around a real coturn; they need root, which CI has.
NET_PACKAGES="iproute2 nftables coturn"
# shellcheck disable=SC2086
install_missing "the network tests' tools" "the network tests will be skipped" $NET_PACKAGES

# The SFU tests (tests/sfu) run Janus (the VideoRoom plugin, packaging/janus/) inside a
# namespace of their own.
install_missing "the media server" "the SFU tests will be skipped" janus

# The audio processing tests speak real (synthesized) speech into the echo canceller and
# through a PulseAudio echo path.
install_missing "a speech synthesizer" "the audio processing tests will fail" espeak-ng

log "python environment (.venv)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

PG_BIN=$(find_pg_bin)
PG_DIR=""
stop_postgres() {
  if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
}
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap stop_postgres EXIT

if [ -n "$PG_BIN" ]; then
  log "throwaway PostgreSQL cluster"
  PG_DIR=$(mktemp -d /tmp/parley-pg.XXXXXX)
  PG_PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
  run_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  export PARLEY_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "PostgreSQL on port $PG_PORT"
fi

log "ruff"
.venv/bin/ruff check desktop_app tests
log "mypy --strict desktop_app"
.venv/bin/mypy --strict desktop_app
log "pytest"
# The suite takes ~30 min on a 2-core machine; the cap only stops a hang (a nested Qt
# loop cannot be broken by pytest-timeout), well inside CI's 90 minutes. The slowest
# tests are listed at the end, to see where the time goes.
timeout 2700 .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
