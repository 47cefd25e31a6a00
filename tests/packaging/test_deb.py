"""The installed package, as a person gets it: ``packaging/build.sh`` builds the ``.deb``,
``apt-get`` installs it (with its dependencies), the desktop entry validates, the
installed ``parley`` starts the way the entry's ``Exec`` line starts it — under Xvfb, with
``--self-test``: its own server, a sign-in on "this computer", the echo test, a picture
back, and a ``parley:`` link opened through the desktop (``xdg-open`` → the entry's
``Exec`` line → the running app's lobby) — and the package uninstalls cleanly.

Slow (a build of about two minutes) and it needs root: it runs when
``PARLEY_PACKAGING_TESTS=1`` (CI's ``.ci/run`` sets it); the default run skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("PARLEY_PACKAGING_TESTS") != "1",
        reason="set PARLEY_PACKAGING_TESTS=1 (slow: builds and installs the .deb)",
    ),
    pytest.mark.skipif(os.geteuid() != 0, reason="installing a .deb needs root"),
]


def _run(*command: str, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _apt_install(*packages: str) -> None:
    missing = [
        p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode
    ]
    if missing:
        _run("apt-get", "update", "-qq")
        _run(
            "apt-get",
            "install",
            "-y",
            "-qq",
            *missing,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )


@pytest.mark.timeout(1200)
def test_the_deb_installs_starts_runs_the_echo_test_and_uninstalls(tmp_path: Path) -> None:
    # binutils and file: build.sh strips the bundle; xdg-utils: the desktop's link opener.
    _apt_install("desktop-file-utils", "xvfb", "xauth", "binutils", "file", "xdg-utils")
    _run("desktop-file-validate", str(ROOT / "packaging" / "linux" / "parley.desktop"))
    started = time.monotonic()
    _run("bash", str(ROOT / "packaging" / "build.sh"), timeout=900)
    built = time.monotonic() - started
    (deb,) = (ROOT / "build" / "dist").glob("parley_*.deb")
    print(f"built in {built:.0f} s; .deb {deb.stat().st_size / 1e6:.0f} MB")
    assert deb.stat().st_size < 150e6, "the .deb grew past 150 MB (docs/packaging.md)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "install", "-y", "-qq", str(deb), env=env)
    try:
        assert os.path.realpath(shutil.which("parley") or "") == "/opt/parley/parley"
        entry = Path("/usr/share/applications/parley.desktop").read_text()
        exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
        assert exec_line == "Exec=parley %u" and "x-scheme-handler/parley" in entry
        assert Path("/usr/share/icons/hicolor/256x256/apps/parley.png").exists()
        assert _run("parley", "--version").startswith("parley ")

        home = tmp_path / "home"
        home.mkdir()
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "PARLEY_"))}
        said = _run(
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            "parley",
            "--self-test",  # as the desktop entry starts it (Exec=parley %u)
            env={**clean, "HOME": str(home), "XDG_SESSION_TYPE": "x11"},
            timeout=240,
        )
        lines = [line for line in said.splitlines() if line.startswith("parley self-test:")]
        assert any("remote frame received" in line for line in lines), said
        assert any("audio processing works" in line for line in lines), said  # livekit's .so
        # The desktop opened a parley: link with the entry's Exec line, and that second
        # launch handed it to the running Parley, which opened the call's lobby.
        assert any("link opened through the desktop (parley.desktop)" in line for line in lines)
        assert lines[-1] == "parley self-test: passed", said
    finally:
        _run("apt-get", "remove", "-y", "-qq", "parley", env=env)
    assert shutil.which("parley") is None and not Path("/opt/parley").exists()
