"""What a person does with the buttons mid-call: camera and microphone off and on again,
ten times, fast and slow, and a device switch. After every "on" the other side gets fresh
frames (or the new sound) within a second.

Each "on" opens the device again, and a freshly opened device's clock starts at zero:
these are the journeys that fed aiortc's VP8 encoder timestamps going backwards, which
killed the sender for the rest of the call.
"""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack

from desktop_app.media.synthetic import dominant_frequency, read_frame_counter
from desktop_app.sdk.call import Call
from desktop_app.sdk.devices import Device, SyntheticDevices
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import unique

MEMBERS = {"members": [{"user_id": "alice"}, {"user_id": "bob"}]}


async def _call(connect: ClientFactory, devices: SyntheticDevices) -> tuple[Call, Call]:
    alice = await connect("alice", devices=devices)
    bob = await connect("bob", devices=SyntheticDevices(height=120, tone_hz=660))
    call = alice.call("default", unique())
    await call.join(create=True, data=MEMBERS)
    bobs = bob.call("default", call.id)
    await bobs.join()
    await eventually(
        lambda: (p := _alice(bobs)) is not None and p.video_track and p.audio_track,
        timeout=10,
        what="alice's media at bob",
    )
    # A track is announced with the offer, before ICE, DTLS and the first keyframe: the
    # call has started when something arrives on both (the 1-second bars below are for
    # what follows a button, not for a loaded machine's connection set-up).
    for kind in ("video", "audio"):
        try:
            await asyncio.wait_for(_track(bobs, kind).recv(), 15.0)
        except TimeoutError:
            pytest.fail(f"alice's first {kind} frame never reached bob")
    return call, bobs


def _alice(bobs: Call) -> object:
    return next((p for p in bobs.state.participants if p.user.id == "alice"), None)


def _track(bobs: Call, kind: str) -> MediaStreamTrack:
    participant = next(p for p in bobs.state.participants if p.user.id == "alice")
    track = participant.video_track if kind == "video" else participant.audio_track
    assert track is not None
    return track  # type: ignore[no-any-return]


async def _drain(track: MediaStreamTrack) -> None:
    """Take what was received before: what follows is fresh."""
    with contextlib.suppress(TimeoutError):
        while True:
            await asyncio.wait_for(track.recv(), 0.05)


async def _fresh_frames(track: MediaStreamTrack) -> list[int]:
    """Two frames, each within a second, the picture moving on between them."""
    first = read_frame_counter(await asyncio.wait_for(track.recv(), 1.0))
    second = read_frame_counter(await asyncio.wait_for(track.recv(), 1.0))
    assert second > first, f"the picture moves on: {first} then {second}"
    return [first, second]


async def _tone(track: MediaStreamTrack, seconds: float = 0.4) -> float:
    samples, rate = [], 48000
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0 + seconds
    while sum(len(s) for s in samples) < seconds * rate:
        frame = await asyncio.wait_for(track.recv(), max(0.01, deadline - loop.time()))
        rate = frame.sample_rate
        data = frame.to_ndarray().astype(float).reshape(-1, len(frame.layout.channels))
        samples.append(data.mean(axis=1))
    return dominant_frequency(np.concatenate(samples), rate)


@pytest.mark.parametrize("pause", [0.05, 0.6], ids=["fast", "slow"])
async def test_camera_off_and_on_ten_times(connect: ClientFactory, pause: float) -> None:
    call, bobs = await _call(connect, SyntheticDevices(height=240))
    video = _track(bobs, "video")
    await _fresh_frames(video)
    for turn in range(10):
        await call.camera.disable()
        await asyncio.sleep(pause)
        await _drain(video)
        await call.camera.enable()
        try:
            await _fresh_frames(video)
        except TimeoutError:
            pytest.fail(f"no fresh video within 1 s after turning the camera on ({turn + 1})")


async def test_a_camera_switch_mid_call(connect: ClientFactory) -> None:
    devices = SyntheticDevices(height=240)
    call, bobs = await _call(connect, devices)
    video = _track(bobs, "video")
    await _fresh_frames(video)
    devices.plug(Device("usb-camera", "USB camera", "camera"))
    await asyncio.sleep(1.0)  # the first camera's frame counter is well past zero
    for camera in ("usb-camera", "synthetic-camera", "usb-camera"):
        before = (await _fresh_frames(video))[-1]
        await call.camera.select(camera)
        assert call.camera.selected.value is not None
        assert call.camera.selected.value.id == camera
        # The newly opened camera counts its frames from zero: its picture has arrived
        # when the counter drops.
        deadline = asyncio.get_running_loop().time() + 1.0
        while read_frame_counter(await asyncio.wait_for(video.recv(), 1.0)) >= before:
            assert asyncio.get_running_loop().time() < deadline, f"{camera}'s picture in 1 s"
        await _fresh_frames(video)
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("pause", [0.05, 0.6], ids=["fast", "slow"])
async def test_microphone_off_and_on_ten_times(connect: ClientFactory, pause: float) -> None:
    call, bobs = await _call(connect, SyntheticDevices(height=120, tone_hz=440))
    audio = _track(bobs, "audio")
    assert abs(await _tone(audio) - 440) < 15
    for turn in range(10):
        await call.microphone.disable()
        await asyncio.sleep(pause)
        await _drain(audio)
        await call.microphone.enable()
        try:
            heard = await _tone(audio, 0.2)
        except TimeoutError:
            pytest.fail(f"no sound within 1 s after turning the microphone on ({turn + 1})")
        assert abs(heard - 440) < 25, f"the tone comes back ({turn + 1}): {heard}"


async def test_a_microphone_switch_mid_call(connect: ClientFactory) -> None:
    devices = SyntheticDevices(height=120, tone_hz=440)
    call, bobs = await _call(connect, devices)
    audio = _track(bobs, "audio")
    devices.plug(Device("headset", "Headset", "microphone"), tone_hz=880)
    for microphone, tone in (("headset", 880), ("synthetic-microphone", 440)):
        await call.microphone.select(microphone)

        async def hears(expected: float = tone) -> bool:
            return abs(await _tone(audio, 0.2) - expected) < 25

        deadline = asyncio.get_running_loop().time() + 1.5
        while not await hears():
            assert asyncio.get_running_loop().time() < deadline, f"bob hears {microphone}"
