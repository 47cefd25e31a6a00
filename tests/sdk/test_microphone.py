"""The microphone in a call: its sound through the audio processing stage, and "you are
muted" — a muted microphone stays open and heard (never sent) so that the app can say
when someone talks into it. Real clients, a real coordinator, synthesized speech."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from desktop_app.media.audio_processing import AudioProcessingSettings, ProcessedTrack
from desktop_app.sdk import ClientOptions
from desktop_app.sdk.call import Call
from desktop_app.sdk.devices import Device, SyntheticDevices
from desktop_app.sdk.levels import SpeechDetector
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
