"""A tile's pictures are made on the tiles' worker thread: the newest frame wins when
frames come faster than they are converted, camera off drops what is in flight, and a
resize makes the picture again at the new size."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import av
import pytest

from desktop_app.media.synthetic import SyntheticVideoTrack, read_frame_counter
from desktop_app.ui.widgets import frame_converter
from desktop_app.ui.widgets.video_tile import VideoTile
from tests.ui.support import eventually


async def _frames(count: int, width: int = 1280, height: int = 720) -> list[av.VideoFrame]:
    camera = SyntheticVideoTrack(width, height, fps=1000)
    try:
        return [await camera.recv() for _ in range(count)]
    finally:
        camera.stop()


def _tile() -> VideoTile:
    tile = VideoTile()
    tile.resize(640, 360)
    tile.set_video_off(False)
    tile.show()
    return tile


async def test_frames_faster_than_conversions_end_on_the_newest_and_off_the_gui_thread(
    qapp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = await _frames(30)
    tile = _tile()
    threads: list[str] = []  # the thread of each conversion
    convert = frame_converter.frame_to_picture

    def recording(*args: Any) -> frame_converter.Picture:
        threads.append(threading.current_thread().name)
        return convert(*args)

    monkeypatch.setattr(frame_converter, "frame_to_picture", recording)
    for frame in frames:  # all at once: the worker cannot keep up
        tile.show_frame(frame)
    await eventually(
        lambda: tile._picture is not None and tile._picture.source is frames[-1],
        what="the newest frame's picture",
    )
    assert tile.frames_shown == 30
    assert tile._picture is not None and read_frame_counter(tile._picture.source) == 29
    assert all(name.startswith("tile-convert") for name in threads), threads
    assert 2 <= len(threads) < 30, "frames a newer one replaced were never converted"
    await eventually(lambda: tile.frames_painted > 0, what="painted")
    tile.close()


async def test_camera_off_drops_the_picture_in_flight(qapp: object) -> None:
    frames = await _frames(2)
    tile = _tile()
    tile.show_frame(frames[0])
    tile.set_video_off(True)  # before the worker is done with it
    await asyncio.sleep(0.3)
    assert tile._picture is None, "a frame from before camera off is never shown"

    tile.set_video_off(False)
    tile.show_frame(frames[1])
    await eventually(lambda: tile._picture is not None, what="the picture after camera on")
    assert tile._picture is not None and tile._picture.source is frames[1]
    tile.close()


async def test_a_resize_makes_a_still_picture_again_at_the_new_size(qapp: object) -> None:
    (frame,) = await _frames(1)
    tile = _tile()
    tile.show_frame(frame)
    await eventually(lambda: tile._picture is not None, what="a picture")
    assert tile._picture is not None
    assert tile._picture.image.width() == 640

    tile.resize(320, 180)  # no new frame comes (a still picture, a paused sender)
    await eventually(
        lambda: tile._picture is not None and tile._picture.image.width() == 320,
        what="the picture at the new size",
    )
    assert tile._picture is not None and tile._picture.source is frame
    tile.close()


async def test_a_frame_that_came_before_the_tile_had_a_size_shows_once_it_has_one(
    qapp: object,
) -> None:
    (frame,) = await _frames(1)
    tile = VideoTile()
    tile.set_video_off(False)
    tile.setMinimumSize(0, 0)
    tile.resize(0, 0)  # a tile squeezed out of sight
    tile.show()
    tile.show_frame(frame)
    await asyncio.sleep(0.2)
    assert tile._picture is None, "nothing to convert to yet"
    tile.resize(320, 180)  # laid out: no new frame comes
    await eventually(lambda: tile._picture is not None, what="the picture")
    assert tile._picture is not None and tile._picture.source is frame
    tile.close()


async def test_a_tile_out_of_sight_converts_nothing_until_it_shows(qapp: object) -> None:
    frames = await _frames(3)
    tile = VideoTile()
    tile.resize(640, 360)
    tile.set_video_off(False)  # not shown: a hidden page, a window in the tray
    for frame in frames:
        tile.show_frame(frame)
    await asyncio.sleep(0.2)
    assert tile._picture is None, "converted for nobody"
    tile.show()
    await eventually(lambda: tile._picture is not None, what="the picture once shown")
    assert tile._picture is not None and tile._picture.source is frames[-1]
    tile.close()
