#!/usr/bin/env bash
# Builds Parley's installable forms into build/dist:
#   parley/                       the PyInstaller one-folder bundle (app + coordinator + bot)
#   parley_<version>_<arch>.deb   /opt/parley, /usr/bin/parley, desktop entry, icons, parley: links
#   parley-<version>-linux-<arch>.tar.gz   the bundle for other distributions
# Everything comes from the package registries pyproject.toml names (no other download).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
for tool in dpkg-deb strip file; do
  command -v "$tool" >/dev/null || { echo "build.sh needs $tool (Debian: dpkg, binutils, file)" >&2; exit 1; }
done
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/python -m pip install -q -e ".[package]"
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("parley"))')
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
out=build/dist
rm -rf build/pyinstaller "$out" build/deb
mkdir -p "$out"

echo "== bundle (PyInstaller)"
.venv/bin/pyinstaller --noconfirm --log-level WARN \
  --distpath build/pyinstaller/dist --workpath build/pyinstaller/work packaging/parley.spec
cp -a build/pyinstaller/dist/parley "$out/parley"

echo "== strip"
# Wheels ship many libraries with their symbol tables (libpython, uvloop, cryptography,
# numpy, asyncpg: ~90 MB of the bundle). Strip them, except auditwheel's vendored
# libraries in `*.libs/`: patchelf rewrote those, and strip breaks them (numpy's
# openblas: "ELF load command address/offset not page-aligned").
find "$out/parley" -type f -name '*.so*' -not -path '*.libs/*' -print0 |
  while IFS= read -r -d '' library; do
    if file -b "$library" | grep -q 'not stripped'; then strip --strip-unneeded "$library"; fi
  done

echo "== icons"
.venv/bin/python packaging/icons.py resources/parley.svg build/icons

echo "== .deb"
root="build/deb/parley_${version}_${arch}"
mkdir -p "$root/opt" "$root/usr/bin" "$root/usr/share/applications" "$root/usr/share/icons" "$root/DEBIAN"
cp -a "$out/parley" "$root/opt/parley"
ln -s /opt/parley/parley "$root/usr/bin/parley"
install -m 0644 packaging/linux/parley.desktop "$root/usr/share/applications/parley.desktop"
cp -a build/icons "$root/usr/share/icons/hicolor"
installed_kb=$(du -sk "$root" | cut -f1)
sed -e "s/@VERSION@/${version}/" -e "s/@ARCH@/${arch}/" -e "s/@SIZE@/${installed_kb}/" \
  packaging/linux/control > "$root/DEBIAN/control"
install -m 0755 packaging/linux/postinst "$root/DEBIAN/postinst"
install -m 0755 packaging/linux/postinst "$root/DEBIAN/postrm"
dpkg-deb --root-owner-group -Zzstd -z9 --build "$root" "$out/parley_${version}_${arch}.deb" >/dev/null

echo "== tarball"
tar_root="build/tar/parley-${version}"
rm -rf build/tar && mkdir -p "$tar_root"
cp -a "$out/parley" "$tar_root/parley"
cp -a build/icons "$tar_root/icons"
install -m 0644 packaging/linux/parley.desktop "$tar_root/parley.desktop"
install -m 0755 packaging/linux/install-for-me.sh "$tar_root/install-for-me.sh"
install -m 0644 packaging/linux/README-tarball.txt "$tar_root/README.txt"
tar -C build/tar -czf "$out/parley-${version}-linux-${arch}.tar.gz" "parley-${version}"

echo "== built in $(( $(date +%s) - started )) s"
du -sh "$out/parley" "$out"/*.deb "$out"/*.tar.gz
