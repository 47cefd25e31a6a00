"""``parley --self-test``: this installation, end to end, as a person would use it — the
app's own server starts, a sign-in on "this computer", the echo test call, a picture
coming back from it, and — where the desktop knows Parley as the handler of ``parley:``
links, as the .deb registers it — an invite link opened through the desktop
(``xdg-open``) reaching this Parley and opening that call's lobby. For a freshly installed package (CI installs the .deb and runs this)
and for anyone wondering whether Parley works here.

It runs with settings and data of its own in a temporary folder, so a person's settings,
accounts and calls are never touched, and with the test devices (a machine without a
camera passes too). Progress and the verdict go to stdout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from desktop_app.media.audio_processing import FRAME, AudioProcessor

from .invite import invite_link
from .main_window import MainWindow

TIMEOUT_SECONDS = 90.0


class SelfTestFailed(Exception):
    """A step found something broken (the message says what)."""


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
        say(check_audio_processing())
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
        await _open_a_link_through_the_desktop(window)
        say("passed")
        return 0
    except (TimeoutError, SelfTestFailed) as error:
        say(f"FAILED: {error}")
        return 1


def check_audio_processing() -> str:
    """The microphone's processing (echo cancellation …) loads its native library and
    takes sound: a package missing the library fails here, not in a person's first call
    with a real microphone (the self-test's test devices never need it)."""
    processor = AudioProcessor()
    processor.microphone_opened()
    try:
        done = processor.capture(np.zeros(FRAME, dtype=np.int16), 20.0)
    except Exception as error:  # the library would not load or run: say so, and fail
        raise SelfTestFailed(f"audio processing does not work: {error}") from None
    finally:
        processor.microphone_closed()
    if len(done) != FRAME:
        raise SelfTestFailed(f"audio processing gave {len(done)} samples for {FRAME}")
    return "audio processing works (echo cancellation, noise suppression)"


async def _output(*command: str) -> str:
    """What ``command`` printed; a command still running after 20 s is killed (a handler
    that never hands the link over must not hang the self-test)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 20)
    except TimeoutError:
        process.kill()
        await process.wait()
        return ""
    return out.decode(errors="replace").strip()


async def _open_a_link_through_the_desktop(window: MainWindow) -> None:
    """The way a link in a chat or a browser arrives: the desktop runs the handler of
    ``parley:`` (its Exec line, a second Parley), which hands the link to this one."""
    if not sys.platform.startswith("linux") or not shutil.which("xdg-open"):
        say("parley: links not checked (no xdg-open here)")
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        say("parley: links not checked (no display: xdg-open hands links over only on one)")
        return
    handler = await _output("xdg-mime", "query", "default", "x-scheme-handler/parley")
    if not handler:
        say("parley: links not checked (no handler registered with this desktop)")
        return
    link = invite_link(window.session.base_url, "default", "self-test-link")
    await _output("xdg-open", link)
    await _until(
        lambda: (
            window.stack.currentWidget() is window.lobby
            and window.lobby.call is not None
            and window.lobby.call.cid == "default:self-test-link"
        ),
        f"lobby of the call of a link opened with xdg-open (handler: {handler})",
    )
    say(f"a parley: link opened through the desktop ({handler}) opened the call's lobby")
    window.lobby.cancelled.emit()
    await _until(lambda: window.stack.currentWidget() is window.home, "home after the lobby")
