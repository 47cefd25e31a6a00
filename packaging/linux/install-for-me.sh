#!/usr/bin/env bash
# Puts Parley in your own menu (no root): a desktop entry pointing at this folder, the
# icons, and parley: links opened by it. Run it again after moving the folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
mkdir -p "$data/applications" "$data/icons/hicolor"
sed "s|^Exec=parley|Exec=\"$here/parley/parley\"|" "$here/parley.desktop" > "$data/applications/parley.desktop"
cp -r "$here/icons/." "$data/icons/hicolor/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v xdg-mime >/dev/null && xdg-mime default parley.desktop x-scheme-handler/parley || true
echo "Parley is in your menu. Start it from there, or run $here/parley/parley"
