"""parley-bot in its own process: it answers a ring and echoes our own video and audio."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from desktop_app.media.synthetic import dominant_frequency, read_frame_counter
from desktop_app.sdk import Call, CallingState
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support import speech
from tests.support.coordinator import RunningCoordinator, unique


@pytest.fixture
async def bot_process(
    coordinator: RunningCoordinator, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    log = (tmp_path / "bot.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "desktop_app.sdk.bot",
        "--server",
        coordinator.base_url,
        "--user",
        "echo",
        "--token",
        coordinator.user_token("echo"),
        "--answer",
        "accept",
        "--echo",
        "--tone",
        "880",
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    assert b"ready" in line, (tmp_path / "bot.log").read_text()
    yield process
    process.terminate()
    await asyncio.wait_for(process.wait(), 10)
    log.close()


async def _ring_the_echo(connect: ClientFactory) -> Call:
    """Alice (a 440 Hz tone) rings the echo bot."""
    alice = await connect("alice", devices=SyntheticDevices(tone_hz=440))
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "echo"}]}, ring=True
    )
    return call


async def test_the_echo_bot_answers_and_sends_back_what_it_gets(
    connect: ClientFactory, bot_process: asyncio.subprocess.Process
) -> None:
    call = await _ring_the_echo(connect)
    await eventually(
        lambda: call.state.calling_state is CallingState.JOINED, timeout=10, what="the bot accepts"
    )
    echo = await eventually(
        lambda: next(
            (
                p
                for p in call.state.participants
                if p.user.id == "echo" and p.video_track and p.audio_track
            ),
            None,
        ),
        timeout=10,
        what="the bot's media",
    )
    numbers = [
        read_frame_counter(await asyncio.wait_for(echo.video_track.recv(), 10)) for _ in range(15)
    ]
    assert numbers[-1] > numbers[0], f"our own frame counter comes back, advancing: {numbers}"
    samples = []
    for _ in range(60):
        frame = await asyncio.wait_for(echo.audio_track.recv(), 10)
        data = frame.to_ndarray().astype(float).reshape(-1, len(frame.layout.channels)).mean(axis=1)
        samples.append(data)
    heard = dominant_frequency(np.concatenate(samples)[-24000:], frame.sample_rate)
    assert abs(heard - 440) < 15, f"our 440 Hz tone comes back, not the bot's 880 Hz: {heard}"
    await call.leave()
    assert bot_process.returncode is None, "the bot keeps running"


async def test_the_echo_follows_our_mute_and_camera_off(
    connect: ClientFactory, bot_process: asyncio.subprocess.Process
) -> None:
    call = await _ring_the_echo(connect)

    def echo_sends(kind: str) -> bool | None:
        echo = next((p for p in call.state.participants if p.user.id == "echo"), None)
        return None if echo is None else echo.published.get(kind)

    await eventually(lambda: echo_sends("video") is True, timeout=15, what="the echo's picture")
    for _ in range(3):
        await call.camera.disable()
        await eventually(lambda: echo_sends("video") is False, timeout=5, what="echo camera off")
        assert echo_sends("audio") is True, "the sound goes on"
        await call.camera.enable()
        await eventually(lambda: echo_sends("video") is True, timeout=5, what="echo camera on")
        echo = next(p for p in call.state.participants if p.user.id == "echo")
        numbers = [
            read_frame_counter(await asyncio.wait_for(echo.video_track.recv(), 10))
            for _ in range(6)
        ]
        # A camera turned on again starts its counter over; a frame from before may lead.
        assert numbers[-1] > numbers[-2] > numbers[-3], f"our picture moves again: {numbers}"
    await call.microphone.disable()
    await eventually(lambda: echo_sends("audio") is False, timeout=5, what="echo muted")
    await call.microphone.enable()
    await eventually(lambda: echo_sends("audio") is True, timeout=5, what="echo unmuted")
    assert call.state.calling_state is CallingState.JOINED, "the echo stayed in the call"
    await call.leave()


@pytest.mark.skipif(not speech.available(), reason="needs espeak-ng")
async def test_a_bot_says_a_recording_through_the_audio_processing(
    connect: ClientFactory, coordinator: RunningCoordinator, tmp_path: Path
) -> None:
    """``--say FILE``: the bot's microphone is a room's (processed), playing speech —
    which comes and goes, unlike a tone."""
    wav = tmp_path / "hello.wav"
    await (
        await asyncio.create_subprocess_exec(
            "espeak-ng", "-w", str(wav), "Hello. This is the bot. Can you hear me talking?"
        )
    ).wait()
    call_id = unique()
    alice = await connect("alice", devices=SyntheticDevices(tone_hz=0))
    call = alice.call("default", call_id)
    await call.join(create=True)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "desktop_app.sdk.bot", "--server", coordinator.base_url,
        "--user", "talker", "--token", coordinator.user_token("talker"),
        "--join", f"default:{call_id}", "--say", str(wav), "--audio-processing", "default",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        levels: list[float] = []

        def heard() -> bool:
            talker = next((p for p in call.state.participants if p.user.id == "talker"), None)
            levels.append(talker.audio_level if talker is not None else 0.0)
            loud = [i for i, level in enumerate(levels) if level > 0.3]
            return bool(loud) and min(levels[loud[0] :]) < 0.15

        # Loud while it talks, quieter between its words: speech, not a steady tone.
        await eventually(heard, timeout=20, what="the bot's speech, with its pauses")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    await call.leave()
