"""The grid layer: the camera's picture fitted in 320×240, at most 15 frames a second by
the frames' own timestamps, its shape kept, never enlarged."""

from __future__ import annotations

import asyncio
import fractions
import itertools

import av
import pytest
from aiortc.mediastreams import MediaStreamError

from desktop_app.media.grid_layer import GridLayerTrack, grid_size
from desktop_app.media.queued_track import QueuedTrack
from desktop_app.media.synthetic import SyntheticVideoTrack

TIME_BASE = fractions.Fraction(1, 90000)


def _frame(width: int, height: int, at: float) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts = round(at * 90000)
    frame.time_base = TIME_BASE
    return frame


async def _drain(layer: GridLayerTrack) -> list[av.VideoFrame]:
    taken = []
    while True:
        try:
            taken.append(await asyncio.wait_for(layer.recv(), 1))
        except MediaStreamError:
            return taken


def test_pictures_fit_the_box_with_their_shape_and_even_sides() -> None:
    assert grid_size(640, 480, (320, 240)) == (320, 240)
    assert grid_size(1280, 720, (320, 240)) == (320, 180)
    assert grid_size(480, 640, (320, 240)) == (180, 240)  # a phone held upright
    assert grid_size(160, 120, (320, 240)) == (160, 120)  # never enlarged
    assert grid_size(1366, 768, (320, 240)) == (320, 180)


async def test_a_30_fps_camera_gives_every_other_frame_at_the_grid_size() -> None:
    source = QueuedTrack("video", keep=100)
    for index in range(30):
        source.push(_frame(1280, 720, index / 30))
    source.end()
    taken = await _drain(GridLayerTrack(source))
    assert len(taken) == 15
    assert {(f.width, f.height, f.format.name) for f in taken} == {(320, 180, "yuv420p")}
    assert [f.pts for f in taken] == [round(i / 15 * 90000) for i in range(15)]
    assert all(f.time_base == TIME_BASE for f in taken)


async def test_a_jittery_camera_keeps_an_even_pace_and_a_pause_restarts_it() -> None:
    source = QueuedTrack("video", keep=100)
    # ~25 fps with jitter: frames a little early still count, so no second is short.
    times = [i * 0.04 + (0.006 if i % 2 else -0.006) for i in range(25)]
    # Then the camera stops for two seconds (switched off) and comes back.
    times += [3.0 + i / 30 for i in range(6)]
    for at in times:
        source.push(_frame(640, 480, at))
    source.end()
    taken = [float(f.pts * f.time_base) for f in await _drain(GridLayerTrack(source))]
    first_second = [t for t in taken if t < 1.0]
    assert 13 <= len(first_second) <= 15, first_second
    gaps = [b - a for a, b in itertools.pairwise(first_second)]
    assert min(gaps) > 0.045, gaps  # never two frames of the camera's in a row
    assert taken[len(first_second)] == pytest.approx(3.0, abs=1e-4)  # back at once
    assert len([t for t in taken if t >= 3.0]) == 3


async def test_a_small_camera_passes_unscaled_and_stopping_the_layer_stops_its_source() -> None:
    camera = SyntheticVideoTrack(160, 120, fps=30)
    layer = GridLayerTrack(camera)
    frames = [await asyncio.wait_for(layer.recv(), 2) for _ in range(4)]
    assert {(f.width, f.height) for f in frames} == {(160, 120)}
    taken = [float(f.pts * f.time_base) for f in frames]
    # Every other frame of the camera's (its timestamps are its frame numbers at 30 fps).
    assert [round((b - a) * 30) for a, b in itertools.pairwise(taken)] == [2, 2, 2]
    layer.stop()
    assert camera.readyState == "ended"
    with pytest.raises(MediaStreamError):
        await layer.recv()
