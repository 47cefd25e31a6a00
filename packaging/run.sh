#!/usr/bin/env bash
# Sets up and opens the Parley desktop app on a fresh machine (Debian/Ubuntu):
#   Qt's system libraries (if missing, when apt is allowed) → .venv with Parley → parley.
# With no server configured the app starts its own on this computer.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
if command -v dpkg >/dev/null; then
  QT_PACKAGES="libpulse0 libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
    libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
    libxcb-shape0 libxcb-xinerama0 libxcb-xkb1"
  missing=$(for p in $QT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    echo "Installing Qt's system libraries: $missing"
    # shellcheck disable=SC2086
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing; } \
      || echo "Could not install them; the app may not start."
  fi
fi
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
# Install only when the project's definition changed since the last install (an editable
# install follows the source by itself): a launch then takes well under a second.
stamp=.venv/.parley-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || ! .venv/bin/python -c "import desktop_app" 2>/dev/null; then
  .venv/bin/python -m pip install -q -e . && touch "$stamp"
fi
exec .venv/bin/parley "$@"
