"""One local track to several consumers: each gets every frame, as an object of its own."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError

from desktop_app.media.fanout import FanOut
from desktop_app.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack, read_frame_counter


async def test_every_branch_gets_every_frame_as_its_own_object() -> None:
    camera = SyntheticVideoTrack(640, 480, fps=30)
    fanout = FanOut(camera)
    first, second = fanout.subscribe(), fanout.subscribe()
    a = [await asyncio.wait_for(first.recv(), 2) for _ in range(5)]
    b = [await asyncio.wait_for(second.recv(), 2) for _ in range(5)]
    numbers_a = [read_frame_counter(f) for f in a]
    numbers_b = [read_frame_counter(f) for f in b]
    # both see consecutive frames: two readers do not take turns at one track
    assert numbers_a == list(range(numbers_a[0], numbers_a[0] + 5)), numbers_a
    assert numbers_b[-1] >= numbers_a[-1]
    assert not {id(f) for f in a} & {id(f) for f in b}, "frames are never shared"


async def test_audio_branches_keep_every_frame_in_order() -> None:
    fanout = FanOut(SyntheticAudioTrack())
    first, second = fanout.subscribe(), fanout.subscribe()
    got_first = [await asyncio.wait_for(first.recv(), 2) for _ in range(10)]
    got_second = [await asyncio.wait_for(second.recv(), 2) for _ in range(10)]
    assert [f.pts for f in got_first] == [f.pts for f in got_second]
    assert [f.pts for f in got_first] == sorted(f.pts for f in got_first)


async def test_a_stopped_branch_leaves_and_nobody_reads_the_source_without_branches() -> None:
    camera = SyntheticVideoTrack(160, 120, fps=30)
    fanout = FanOut(camera)
    branch = fanout.subscribe()
    await asyncio.wait_for(branch.recv(), 2)
    branch.stop()
    assert fanout.branches == 0
    made = camera._number
    await asyncio.sleep(0.2)
    assert camera._number == made, "the camera is not read for nobody"


async def test_the_end_of_the_source_ends_every_branch() -> None:
    camera = SyntheticVideoTrack(160, 120, fps=30)
    fanout = FanOut(camera)
    branch = fanout.subscribe()
    await asyncio.wait_for(branch.recv(), 2)
    camera.stop()
    with pytest.raises(MediaStreamError):
        for _ in range(5):
            await asyncio.wait_for(branch.recv(), 2)
