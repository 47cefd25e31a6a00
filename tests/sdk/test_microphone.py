"""The microphone in a call: its sound through the audio processing stage, and "you are
muted" — a muted microphone stays open and heard (never sent) so that the app can say
when someone talks into it. Real clients, a real coordinator, synthesized speech."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.audio_processing import (
    AudioProcessingSettings,
    AudioProcessor,
    ProcessedTrack,
)
from desktop_app.media.queued_track import QueuedTrack
from desktop_app.sdk import ClientOptions
from desktop_app.sdk.call import Call
from desktop_app.sdk.devices import Device, SyntheticDevices
from desktop_app.sdk.levels import SpeechDetector
from desktop_app.sdk.microphone import MicrophoneManager
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support import speech
from tests.support.coordinator import unique

MEMBERS = {"members": [{"user_id": "alice"}, {"user_id": "bob"}]}


def test_a_quarter_second_of_voice_is_speech_and_a_click_is_not() -> None:
    detector = SpeechDetector()
    at = 0.0
    for _ in range(5):  # a click: 100 ms
        at += 0.02
        assert not detector.feed(0.8, at)
    for _ in range(20):
        at += 0.02
        detector.feed(0.0, at)
    heard = []
    for _ in range(20):  # talking
        at += 0.02
        heard.append(detector.feed(0.6, at))
    assert not heard[10] and heard[-1], "it takes a quarter of a second"
    for _ in range(50):  # a second of pause: still talking
        at += 0.02
        assert detector.feed(0.0, at)
    for _ in range(30):
        at += 0.02
        detector.feed(0.0, at)
    assert not detector.speaking, "after 1.5 s of quiet, done"


def _speaking_devices(tone_hz: float | None = None) -> SyntheticDevices:
    """Alice's devices: a microphone in a room where she talks (or a silent one)."""
    devices = SyntheticDevices(height=120)
    talk = None if tone_hz is not None else speech.speech(speech.NEAR_TEXT, "en-gb+f3")
    devices.plug(
        Device("room-mic", "Laptop microphone", "microphone", is_default=True, acoustic=True),
        tone_hz=tone_hz,
        sound=talk,
    )
    return devices


async def _call(connect: ClientFactory, devices: SyntheticDevices) -> tuple[Call, Call]:
    alice = await connect("alice", devices=devices)
    # Bob says nothing: with a far end talking and no echo of it in the room (this test's
    # speaker is not in Alice's room), the echo canceller holds her voice back for its
    # first seconds, until it has learnt there is no echo (measured in docs/sdk.md).
    bob = await connect("bob", devices=SyntheticDevices(height=120, tone_hz=0))
    call = alice.call("default", unique())
    await call.microphone.select("room-mic")
    await call.join(create=True, data=MEMBERS)
    bobs = bob.call("default", call.id)
    await bobs.join()
    await eventually(lambda: _alice_at(bobs) is not None, timeout=10, what="alice at bob's")
    return call, bobs


def _alice_at(bobs: Call) -> object:
    return next((p for p in bobs.state.participants if p.user.id == "alice"), None)


def _level_at_bob(bobs: Call) -> float:
    alice = _alice_at(bobs)
    return float(alice.audio_level) if alice is not None else 0.0  # type: ignore[attr-defined]


@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng")
async def test_talking_into_a_muted_microphone_is_noticed_and_never_sent(
    connect: ClientFactory,
) -> None:
    call, bobs = await _call(connect, _speaking_devices())
    mic = call.microphone
    assert isinstance(mic.track.source, ProcessedTrack), "a room's microphone is processed"
    await eventually(lambda: _level_at_bob(bobs) > 0.2, timeout=10, what="bob hears alice")
    assert not mic.speaking_while_muted.value

    await call.microphone.disable()
    await eventually(lambda: mic.speaking_while_muted.value, timeout=3, what="the hint")
    assert mic.listening and not mic.enabled
    await eventually(lambda: _level_at_bob(bobs) < 0.01, timeout=3, what="silence at bob's")
    for _ in range(20):  # she keeps talking: nothing of it reaches Bob
        await asyncio.sleep(0.05)
        assert _level_at_bob(bobs) < 0.01
    assert mic.speaking_while_muted.value

    await call.microphone.enable()
    assert not mic.speaking_while_muted.value and not mic.listening
    await eventually(lambda: _level_at_bob(bobs) > 0.2, timeout=3, what="bob hears her again")
    await call.leave()


async def test_a_muted_microphone_that_hears_silence_says_nothing(
    connect: ClientFactory,
) -> None:
    call, _ = await _call(connect, _speaking_devices(tone_hz=0))
    await call.microphone.disable()
    await eventually(lambda: call.microphone.listening, timeout=3, what="listening")
    for _ in range(40):
        await asyncio.sleep(0.05)
        assert not call.microphone.speaking_while_muted.value
    await call.leave()


async def test_joining_muted_listens_and_leaving_closes_the_microphone(
    connect: ClientFactory,
) -> None:
    devices = _speaking_devices(tone_hz=0)
    alice = await connect("alice", devices=devices)
    call = alice.call("default", unique())
    await call.microphone.select("room-mic")
    await call.microphone.disable()  # she chose to join muted
    await call.join(create=True, data=MEMBERS)
    await eventually(lambda: call.microphone.listening, timeout=3, what="listening")
    opened = devices._open["room-mic"]
    assert [track.readyState for track in opened] == ["live"]
    await call.leave()
    assert not call.microphone.listening
    assert [track.readyState for track in opened] == ["ended"], "the device is let go"
    # Outside a call, muting closes the microphone as before.
    await call.microphone.enable()
    await call.microphone.disable()
    assert not call.microphone.listening
    assert all(track.readyState == "ended" for track in devices._open["room-mic"])
    assert len(devices._open["room-mic"]) == 2


@pytest.mark.parametrize("processed", [True, False])
async def test_a_fan_at_the_microphone_does_not_make_you_the_speaker(
    connect: ClientFactory, processed: bool
) -> None:
    """Levels and the dominant speaker come from the processed sound: a fan behind Alice
    (steady noise, about -40 dBFS) lights her up at Bob's only without the processing
    (the baseline, in the same test)."""
    fan = np.random.default_rng(5).normal(0, 300, 10 * 48_000).astype(np.int16)
    devices = SyntheticDevices(height=120)
    devices.plug(
        Device("room-mic", "Laptop microphone", "microphone", is_default=True, acoustic=True),
        sound=fan,
    )
    settings = AudioProcessingSettings() if processed else AudioProcessingSettings.none()
    alice = await connect(
        "alice", devices=devices, options=ClientOptions(audio_processing=settings)
    )
    bob = await connect("bob", devices=SyntheticDevices(height=120, tone_hz=0))
    call = alice.call("default", unique())
    await call.microphone.select("room-mic")
    await call.join(create=True, data=MEMBERS)
    bobs = bob.call("default", call.id)
    await bobs.join()
    await eventually(lambda: _alice_at(bobs) is not None, timeout=10, what="alice at bob's")
    await asyncio.sleep(4)  # the suppressor learns the noise in its first seconds
    levels = []
    for _ in range(40):
        await asyncio.sleep(0.05)
        levels.append(_level_at_bob(bobs))
    speaker = bobs.state.dominant_speaker
    if processed:
        assert max(levels) < 0.05 and speaker is None, (levels, speaker)
    else:
        assert min(levels) > 0.1 and speaker is not None, (levels, speaker)
    await call.leave()


class _SlowDevices(SyntheticDevices):
    """Synthetic devices whose microphones take a moment to open, as PyAV's do (they
    open on a thread): time for the call to end while one is opening."""

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        await asyncio.sleep(0.2)
        return await super().open_microphone(device_id)


class _PushingDevices(SyntheticDevices):
    """Synthetic devices whose microphones push their frames into a queue as they come,
    as the Qt backend's do (a reader waits on the queue, not on the device's clock)."""

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        device = await super().open_microphone(device_id)
        queue = QueuedTrack("audio", keep=25)

        async def feed() -> None:
            with contextlib.suppress(MediaStreamError):
                while queue.readyState == "live":
                    queue.push(await device.recv())

        feeding = asyncio.ensure_future(feed())

        @queue.on("ended")
        def _ended() -> None:
            feeding.cancel()
            device.stop()

        return queue


def _room(devices: SyntheticDevices, device_id: str = "room-mic", default: bool = True) -> None:
    devices.plug(
        Device(device_id, "Laptop microphone", "microphone", is_default=default, acoustic=True),
        tone_hz=0,
    )


async def _room_manager(devices: SyntheticDevices) -> MicrophoneManager:
    """A microphone manager on ``devices`` with a room microphone plugged and selected."""
    _room(devices)
    mic = MicrophoneManager(devices, AudioProcessor())
    await mic.select("room-mic")
    return mic


def _all_ended(tracks: list[MediaStreamTrack]) -> bool:
    """Some device was opened, and everything opened is closed again."""
    return bool(tracks) and all(track.readyState == "ended" for track in tracks)


async def _frames_arrive(mic: MicrophoneManager) -> bool:
    """Whether what the peers read from the microphone brings frames (within 1 s)."""
    branch = mic.subscribe()
    try:
        await asyncio.wait_for(branch.recv(), 1.0)
        return True
    except TimeoutError:
        return False
    finally:
        branch.stop()


async def test_a_call_that_ends_while_the_muted_microphone_opens_leaves_it_closed() -> None:
    devices = _SlowDevices()
    mic = await _room_manager(devices)
    await mic.disable()
    opening = asyncio.ensure_future(mic.listen_while_muted(True))
    await asyncio.sleep(0.05)  # the device is opening …
    mic.release()  # … when the call ends
    await opening
    assert not mic.listening
    assert _all_ended(devices._open.get("room-mic", [])), "opened, then closed again"
    assert mic.processor.microphones == 0
    mic.close()


async def test_muting_then_leaving_at_once_leaves_the_microphone_working() -> None:
    devices = _PushingDevices()
    mic = await _room_manager(devices)
    await mic.listen_while_muted(True)
    await mic.enable()
    assert await _frames_arrive(mic)
    reader = mic.subscribe()  # a peer reading all along
    pending = asyncio.ensure_future(reader.recv())
    await asyncio.wait_for(asyncio.shield(pending), 1.0)
    pending = asyncio.ensure_future(reader.recv())
    await asyncio.sleep(0)  # its read is under way …
    await mic.disable()  # … when the microphone is muted …
    mic.release()  # … and the call over, within the same moment
    await mic.enable()  # the next call
    frame = await asyncio.wait_for(pending, 1.0)
    assert frame is not None, "the same reader gets sound again"
    reader.stop()
    mic.close()


async def test_unplugged_while_muted_it_listens_on_the_fallback_and_unmutes_there() -> None:
    devices = SyntheticDevices()
    devices.unplug("synthetic-microphone")
    _room(devices, "usb-mic", default=False)
    _room(devices, "room-mic")
    mic = MicrophoneManager(devices, AudioProcessor())
    await mic.select("usb-mic")
    await mic.enable()
    await mic.listen_while_muted(True)
    await mic.disable()
    assert mic.listening
    devices.unplug("usb-mic")
    await eventually(
        lambda: (
            mic.listening and mic.selected.value is not None and mic.selected.value.id == "room-mic"
        ),
        what="listening on the fallback",
    )
    await mic.enable()
    assert mic.enabled and await _frames_arrive(mic)
    mic.release()
    assert _all_ended([t for ts in devices._open.values() for t in ts])
    mic.close()


async def test_selecting_a_room_microphone_while_muted_starts_listening() -> None:
    devices = SyntheticDevices()  # its default microphone is a test tone: no listening
    _room(devices, "room-mic", default=False)
    mic = MicrophoneManager(devices, AudioProcessor())
    await mic.listen_while_muted(True)
    assert not mic.listening
    await mic.select("room-mic")
    assert mic.listening
    mic.release()
    mic.close()
