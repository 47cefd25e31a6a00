"""``parley --self-test`` from the source install: the app's own server starts, a sign-in
on "this computer", the echo test, and a picture comes back (the installed package's
smoke test runs the same command); and, with this checkout registered with the desktop as
the handler of ``parley:`` links, a link opened with ``xdg-open`` reaches the running app
through a second launch and opens the call's lobby."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _self_test(*launcher: str, env: dict[str, str]) -> list[str]:
    """The self-test's own lines, once it has passed."""
    done = subprocess.run(
        [*launcher, sys.executable, "-m", "desktop_app", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    said = [line for line in done.stdout.splitlines() if line.startswith("parley self-test:")]
    assert done.returncode == 0, (said, done.stderr[-2000:])
    assert said[-1] == "parley self-test: passed", said
    return said


@pytest.mark.timeout(200)
def test_the_self_test_walks_sign_in_and_the_echo_test(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the local server's log
    }
    said = _self_test(env=env)
    assert any("signed in on this computer" in line for line in said), said
    assert any("remote frame received" in line for line in said), said
    assert any("audio processing works" in line for line in said), said


@pytest.mark.timeout(200)
@pytest.mark.skipif(not shutil.which("xvfb-run") or not shutil.which("xdg-open"), reason="Xvfb")
def test_a_link_opened_through_the_desktop_reaches_the_running_app(tmp_path: Path) -> None:
    applications = tmp_path / "data" / "applications"
    applications.mkdir(parents=True)
    (applications / "parley-checkout.desktop").write_text(
        "[Desktop Entry]\nType=Application\nName=Parley (checkout)\n"
        f"Exec={sys.executable} -m desktop_app %u\nMimeType=x-scheme-handler/parley;\n"
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "mimeapps.list").write_text(
        "[Default Applications]\nx-scheme-handler/parley=parley-checkout.desktop\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "DISPLAY"))}
    env.update(
        QT_QPA_PLATFORM="xcb",  # xdg-open hands links to applications only on a display
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    said = _self_test("xvfb-run", "-a", env=env)
    opened = "a parley: link opened through the desktop (parley-checkout.desktop)"
    assert any(line.startswith(f"parley self-test: {opened}") for line in said), said


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--version"],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.startswith("parley "), done
    assert done.stdout.split()[1][0].isdigit()


SIGN_IN = """
import asyncio
from PySide6.QtWidgets import QApplication
from desktop_app.ui.app import build
from desktop_app.ui.event_loop import QtEventLoop
app = QApplication([])
loop = QtEventLoop(app)
asyncio.set_event_loop(loop)
window, session = build(app)
async def main():
    await session.sign_in("local", "", "sam", "Sam", "")
    await session.shutdown()
with loop:
    loop.run_until_complete(main())
"""


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.timeout(120)
@pytest.mark.skipif(not shutil.which("pgrep"), reason="needs pgrep")
def test_sigterm_quits_like_quit_and_stops_the_own_server_and_echo_bot(tmp_path: Path) -> None:
    """A desktop session's logout sends SIGTERM: Parley quits as its Quit does instead of
    dying with its server and echo bot still running (their port then stays taken)."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PARLEY_CONFIG_DIR": str(tmp_path / "config"),
        "PARLEY_DATA_DIR": str(tmp_path / "data"),
        "PARLEY_INSTANCE": f"parley-sigterm-{os.getpid()}",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    subprocess.run([sys.executable, "-c", SIGN_IN], env=env, check=True, timeout=60)
    app = subprocess.Popen(
        [sys.executable, "-m", "desktop_app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 40
        while len(children := _children(app.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(children) == 2, "signed in again: its own server and the echo bot run"
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=20) == 0
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(c) for c in children), "nothing left running"
    finally:
        if app.poll() is None:
            app.kill()
        for child in _children(app.pid):
            os.kill(child, signal.SIGKILL)
