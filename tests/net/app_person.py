"""Parley's own window as a person in a network test: run inside a site's namespace
(``Person.app`` in ``scene.py``), offscreen, with the test devices. It signs in to the
scene's server with the form a person fills in, answers the first ring with the ring
dialog's Accept button, and from then on prints a line whenever what the call view shows
changes — the banner, and for each tile its caption, quality bars and whether its
picture moves — so a test can wait for what a person would see. A line ``shot NAME`` on
stdin saves the window as ``NAME.png`` in ``--shots``; ``layout`` clicks the layout
button (grid ⇄ speaker); ``frames`` prints the frames all tiles painted and were shown.

    python -m tests.net.app_person --server URL --user alice --shots DIR
    (the user's token in PARLEY_TEST_TOKEN)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from desktop_app.ui.app import build
from desktop_app.ui.event_loop import QtEventLoop
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.widgets.video_tile import VideoTile

#: A picture counts as moving when this many frames were shown in the last second.
MOVING_FPS = 5


def say(text: str) -> None:
    print(text, flush=True)


async def until(check: Callable[[], Any], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting after {seconds:.0f} s")
        await asyncio.sleep(0.05)


class Watcher:
    """What the window shows, as one line. A tile's picture is "moving" when it showed
    ``MOVING_FPS`` frames a second or more over the last whole second."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        #: per tile: when its frames were last counted, the count then, moving since then
        self.counted: dict[str, tuple[float, int, bool]] = {}

    def line(self) -> str:
        window = self.window
        view = window.call_view
        call = view.call
        if window.stack.currentWidget() is not view or call is None:
            return f"showing {window.stack.currentWidget().__class__.__name__}"
        parts = [f"call {call.state.calling_state.value}"]
        leg = call.media_session.leg
        parts.append(f"media {leg.mode if leg is not None else 'none'}")
        if view.banner.isVisible():
            parts.append(f"banner {view.banner_text.text()!r}")
        if view.notice.isVisible() and view.notice.text():
            parts.append(f"notice {view.notice.text()!r}")
        camera = "camera on" if call.camera.enabled else "camera off"
        microphone = "microphone on" if call.microphone.enabled else "microphone off"
        parts.append(f"{camera}, {microphone}")
        grid = view.grid
        if grid.layout_mode == "speaker" and len(grid.visible_tiles()) > 1:
            parts.append(f"layout speaker, large {grid.visible_tiles()[0].name}")
        else:
            parts.append(f"layout {grid.layout_mode}")
        for tile in view.tiles.values():
            parts.append(
                f"tile {tile.name}: bars {tile.quality or 'none'}, "
                f"caption {tile.state or 'none'}, picture {self._picture(tile)}"
            )
        return " | ".join(parts)

    def _picture(self, tile: VideoTile) -> str:
        if tile.video_off:
            return "off (avatar)"
        now = time.monotonic()
        then, count, moving = self.counted.setdefault(tile.name, (now, tile.frames_shown, False))
        if now - then >= 1.0:
            moving = (tile.frames_shown - count) / (now - then) >= MOVING_FPS
            self.counted[tile.name] = (now, tile.frames_shown, moving)
        return "moving" if moving else "still"


def _read_commands(loop: asyncio.AbstractEventLoop, commands: asyncio.Queue[str]) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(commands.put_nowait, line.strip())
    loop.call_soon_threadsafe(commands.put_nowait, "quit")


async def act(window: MainWindow, args: argparse.Namespace) -> None:
    commands: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=_read_commands, args=(loop, commands), daemon=True).start()
    window.session.use_test_devices(True)
    form = window.sign_in
    form.remote.setChecked(True)
    form.server_url.setText(args.server)
    form.user_id.setText(args.user)
    form.name.setText(args.user.title())
    form.token.setText(os.environ["PARLEY_TEST_TOKEN"])
    form.sign_in.click()
    await until(lambda: window.stack.currentWidget() is window.home)
    say(f"{args.user} is ready")
    await until(lambda: window.incoming is not None and window.incoming.isVisible(), 120)
    assert window.incoming is not None
    window.incoming.accept_video.click()
    say("answering")
    watcher, shown = Watcher(window), ""
    while True:
        line = watcher.line()
        if line != shown:
            say(line)
            shown = line
        try:
            command = await asyncio.wait_for(commands.get(), 0.25)
        except TimeoutError:
            continue
        if command.startswith("shot "):
            name = command.split(" ", 1)[1]
            window.grab().save(str(Path(args.shots) / f"{name}.png"))
            say(f"saved {name}")
        elif command == "frames":
            tiles = window.call_view.tiles.values()
            painted = sum(tile.frames_painted for tile in tiles)
            say(f"frames painted {painted} shown {sum(tile.frames_shown for tile in tiles)}")
        elif command == "layout":
            window.call_view.layout_toggle.click()
        elif command == "quit":
            return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--shots", required=True)
    args = parser.parse_args()
    Path(args.shots).mkdir(parents=True, exist_ok=True)
    # What the call's media does (a test that fails shows the app's last lines).
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("desktop_app.sdk").setLevel(logging.INFO)
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    window, session = build(app, "light")
    window.resize(900, 640)
    window.show()
    window.start()

    async def run() -> None:
        try:
            await act(window, args)
        finally:
            window.quit()
            await session.shutdown()

    with loop:
        loop.run_until_complete(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
