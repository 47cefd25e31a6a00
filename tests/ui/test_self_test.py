"""``parley --self-test`` from the source install: the app's own server starts, a sign-in
on "this computer", the echo test, and a picture comes back (the installed package's
smoke test runs the same command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.timeout(200)
def test_the_self_test_walks_sign_in_and_the_echo_test(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_STATE_HOME": str(tmp_path / "state"),  # the local server's log
    }
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    said = [line for line in done.stdout.splitlines() if line.startswith("parley self-test:")]
    assert done.returncode == 0, (said, done.stderr[-2000:])
    assert any("signed in on this computer" in line for line in said), said
    assert any("remote frame received" in line for line in said), said
    assert said[-1] == "parley self-test: passed"


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
