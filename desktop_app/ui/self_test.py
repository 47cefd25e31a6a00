"""``parley --self-test``: this installation, end to end, as a person would use it — the
app's own server starts, a sign-in on "this computer", the echo test call, and a picture
coming back from it. For a freshly installed package (CI installs the .deb and runs this)
and for anyone wondering whether Parley works here.

It runs with settings and data of its own in a temporary folder, so a person's settings,
accounts and calls are never touched, and with the test devices (a machine without a
camera passes too). Progress and the verdict go to stdout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .main_window import MainWindow

TIMEOUT_SECONDS = 90.0


async def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {TIMEOUT_SECONDS:.0f} s")
        await asyncio.sleep(0.05)
    return result


def say(text: str) -> None:
    print(f"parley self-test: {text}", flush=True)


async def self_test(window: MainWindow) -> int:
    """0 when an echoed picture came back; 1 (and why) when a step failed."""
    started = time.monotonic()
    # The test pattern and tone: the installation is on trial, not the camera (a machine
    # without one must pass too).
    window.session.use_test_devices(True)
    try:
        await _until(window.isVisible, "window")
        say(f"window shown after {time.monotonic() - started:.1f} s")
        form = window.sign_in
        form.local.setChecked(True)
        form.user_id.setText("self-test")
        form.name.setText("Self test")
        form.sign_in.click()
        await _until(lambda: window.stack.currentWidget() is window.home, "sign-in")
        say("signed in on this computer (its own server is running)")
        await _until(window.home.echo.isEnabled, "echo test (the echo bot did not start)")
        window.home.echo.click()
        if window.stack.currentWidget() is window.lobby:
            window.lobby.join.click()
        view = window.call_view

        def echoed_frames() -> bool:
            return any(
                not tile.name.endswith("(you)") and tile.frames_shown > 0
                for tile in view.tiles.values()
            )

        await _until(echoed_frames, "picture back from the echo test")
        say(f"remote frame received after {time.monotonic() - started:.1f} s")
        view.leave.click()
        await _until(lambda: window.stack.currentWidget() is window.home, "leaving")
        say("passed")
        return 0
    except TimeoutError as error:
        say(f"FAILED: {error}")
        return 1
