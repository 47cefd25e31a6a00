"""The desktop app's costs, each beside a baseline measured in the same run.

    .venv/bin/python tests/perf/bench_ui.py

* **start → lobby preview**: from creating the main window (with a coordinator already
  running in its own process) through sign-in and opening the lobby to the first painted
  preview frame (ms); the baseline is the bare part of it: QApplication already up, one
  synthetic camera frame converted and painted in a plain widget.
* **720p frame in a tile**: ``VideoTile.show_frame`` + paint of a 1280x720 frame (µs) vs the
  bare ``reformat("bgra")`` (a scaler kept between frames) + ``QImage`` + ``drawImage`` path
  in a plain widget, both painted through ``QWidget.render`` into the same image; target
  ratio <= 1.3. Measured outside the event loop, where a tile converts on the caller's
  thread (in the app that work runs on the tiles' worker thread).
* **9 tiles**: frames painted per second by 9 tiles each fed by a synthetic 640x360@30
  camera (in this process: nine real bots would need nine more peer connections on these
  two cores), against the 270 frames/s offered.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QPoint, QSize
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QApplication, QWidget

from desktop_app.coordinator.auth import create_user_token
from desktop_app.media.fanout import copy_frame
from desktop_app.media.synthetic import SyntheticVideoTrack
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.ui.event_loop import QtEventLoop
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.preferences import Preferences
from desktop_app.ui.session import Session
from desktop_app.ui.theme import apply_theme
from desktop_app.ui.widgets.video_tile import VideoTile
from tests.support.served import served

SECRET = "bench-ui-secret-0123456789abcdef0123456789abcdef"
ROUNDS = 300


class BareTile(QWidget):
    """The bare path inside a widget, painted the same way as the tile (QWidget.render)."""

    def __init__(self) -> None:
        super().__init__()
        self.image: QImage | None = None

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.image is not None:
            painter = QPainter(self)
            painter.drawImage(0, 0, self.image)
            painter.end()


def frame_cost() -> tuple[float, float]:
    """Median µs per 720p frame: through a tile, and the bare path."""
    rng = np.random.default_rng(1)
    pictures = [
        av.VideoFrame.from_ndarray(
            rng.integers(0, 255, (720, 1280, 3), np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        for _ in range(8)
    ]
    scaler = VideoReformatter()  # the bare path's, kept between frames as a tile keeps its own
    target = QImage(1280, 720, QImage.Format.Format_RGB32)
    tile = VideoTile()
    tile.resize(1280, 720)
    tile.set_video_off(False)
    plain = BareTile()
    plain.resize(1280, 720)
    ours, bare = [], []
    for i in range(ROUNDS):
        # A new frame each time, as from a decoder: a frame's own ``reformat`` caches a
        # scaler on the frame, and reusing a few frames would measure that cache.
        frame = copy_frame(pictures[i % len(pictures)])
        start = time.perf_counter()
        tile.show_frame(frame)
        tile.render(target, QPoint(0, 0))
        ours.append(time.perf_counter() - start)

        frame = copy_frame(pictures[i % len(pictures)])
        start = time.perf_counter()
        converted = scaler.reformat(frame, width=1280, height=720, format="bgra")
        plane = converted.planes[0]
        plain.image = QImage(
            memoryview(plane), 1280, 720, plane.line_size, QImage.Format.Format_RGB32
        )
        plain.render(target, QPoint(0, 0))
        bare.append(time.perf_counter() - start)
    return statistics.median(ours) * 1e6, statistics.median(bare) * 1e6


async def nine_tiles(seconds: float = 5.0) -> float:
    tiles = []
    for _ in range(9):
        tile = VideoTile()
        tile.resize(QSize(420, 236))
        tile.set_video_off(False)
        tile.show()
        tile.set_track(SyntheticVideoTrack(640, 360, 30))
        tiles.append(tile)
    await asyncio.sleep(1.0)
    before = sum(t.frames_painted for t in tiles)
    await asyncio.sleep(seconds)
    painted = (sum(t.frames_painted for t in tiles) - before) / seconds
    for tile in tiles:
        tile.stop()
        tile.close()
    return painted


async def start_to_preview(base_url: str) -> tuple[float, float]:
    start = time.perf_counter()
    session = Session(Preferences(), SyntheticDevices(), persist=False)
    window = MainWindow(session)
    window.show()
    await session.sign_in("remote", base_url, "alice", "Alice", create_user_token(SECRET, "alice"))
    window.home.ring_requested.emit(["bob"], True)
    while window.lobby.preview.frames_painted == 0:  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.001)
    ours = (time.perf_counter() - start) * 1000
    window.lobby.close_devices(release=True)
    await session.shutdown()
    window.close()

    start = time.perf_counter()
    camera = SyntheticVideoTrack()
    tile = VideoTile()
    tile.resize(640, 360)
    tile.set_video_off(False)
    tile.show()
    tile.show_frame(await camera.recv())  # converted on the tiles' worker, then painted
    while tile.frames_painted == 0:  # noqa: ASYNC110 - polling a counter
        await asyncio.sleep(0.001)
    bare = (time.perf_counter() - start) * 1000
    tile.close()
    return ours, bare


def main() -> None:
    app = QApplication([])
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app, "light")
    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    with (
        tempfile.TemporaryDirectory() as data,
        served(Path(data), "--secret", SECRET) as coordinator,
    ):
        os.environ["PARLEY_CONFIG_DIR"] = str(Path(data) / "config")
        with loop:
            start_ms, bare_start_ms = loop.run_until_complete(
                start_to_preview(coordinator.base_url)
            )
            ours_us, bare_us = frame_cost()
            painted = loop.run_until_complete(nine_tiles())
    print(f"\n{'':40}{'baseline':>12}{'Parley':>12}{'ratio':>8}")
    print(
        f"{'start -> lobby preview (ms)':40}{bare_start_ms:>12.1f}{start_ms:>12.1f}{start_ms / bare_start_ms:>7.1f}x"
    )
    print(
        f"{'720p frame convert + paint (µs)':40}{bare_us:>12.0f}{ours_us:>12.0f}{ours_us / bare_us:>7.2f}x"
    )
    print(
        f"{'9 tiles, frames painted per second':40}{270:>12}{painted:>12.0f}{painted / 270:>7.2f}x"
    )
    print("\ntarget: 720p tile path <= 1.3x the bare path")


if __name__ == "__main__":
    main()
