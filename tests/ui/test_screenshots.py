"""The screenshot script runs (under Xvfb when it is installed) and writes every screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
SCREENS = [
    "1-sign-in",
    "2-home",
    "3-lobby",
    "4-outgoing-dialog",
    "5-call-2-participants",
    "5b-talking-while-muted",
    "6-call-6-participants",
    "6b-call-quality",
    "7-incoming-popup",
    "8-home-dark",
    "9-ring-outcomes",
    "10-missed-call",
    "11-tray-menu",
    "12-people-search",
    "13-call-participants-dark",
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("scale", ["1", "2"])
def test_the_screenshot_script_writes_every_screen(scale: str) -> None:
    out = ROOT / "build" / ("screenshots" if scale == "1" else f"screenshots-{scale}x")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    if shutil.which("Xvfb") is None:
        env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests/ui/screenshots.py"),
            "--out",
            str(out),
            "--scale",
            scale,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in SCREENS:
        image = QImage(str(out / f"{name}.png"))
        assert not image.isNull() and image.width() > 100, name
        step = max(3, min(image.width(), image.height()) // 40)
        colors = {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
        assert len(colors) > 2, f"{name} is blank"
