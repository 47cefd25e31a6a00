"""A paused track gives no frames (its sender encodes nothing) and reads nothing of its
source; resumed, it gives a fresh frame — a camera branch keeps only its newest."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError

from desktop_app.media.fanout import FanOut
from desktop_app.media.pausable_track import PausableTrack
from desktop_app.media.synthetic import SyntheticVideoTrack


async def test_a_paused_track_gives_nothing_and_resumes_with_a_fresh_frame() -> None:
    camera = FanOut(SyntheticVideoTrack(160, 120, 50))
    preview = camera.subscribe()  # the camera goes on for the self view
    track = PausableTrack(camera.subscribe())
    first = await asyncio.wait_for(track.recv(), 2)
    track.pause()
    assert track.paused
    waiting = asyncio.ensure_future(track.recv())
    for _ in range(25):  # half a second of the camera, none of it given
        await asyncio.wait_for(preview.recv(), 2)
    assert not waiting.done()
    track.resume()
    fresh = await asyncio.wait_for(waiting, 2)
    assert fresh.time - first.time >= 0.45, "the frames of the pause were skipped, not held"
    track.stop()
    preview.stop()


async def test_a_track_stopped_while_paused_ends() -> None:
    source = SyntheticVideoTrack(160, 120, 50)
    track = PausableTrack(source)
    track.pause()
    waiting = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0.1)
    track.stop()
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(waiting, 2)
    assert source.readyState == "ended"
