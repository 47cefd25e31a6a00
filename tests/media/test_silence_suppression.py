"""Silence suppression: sound goes out at once, silence after a hangover only as a packet
every 0.4 s — stamped with when its sound was, so receivers read no jitter into it."""

from __future__ import annotations

import asyncio
import fractions

import av
import numpy as np
import pytest
from aiortc import RTCPeerConnection
from aiortc.codecs.opus import OpusDecoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError

from desktop_app.media.queued_track import QueuedTrack
from desktop_app.media.silence_suppression import (
    HANGOVER_SECONDS,
    KEEPALIVE_SECONDS,
    SilenceSuppressedTrack,
    SilenceSuppressor,
)
from desktop_app.media.synthetic import SyntheticAudioTrack, dominant_frequency

RATE = 48_000
STEP = 960  # 20 ms


def _tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype(np.int16)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def test_loud_frames_go_out_then_a_hangover_then_a_keepalive_every_interval() -> None:
    rule = SilenceSuppressor()
    frames = [(True, i * 0.02) for i in range(50)]  # a second of speech
    frames += [(False, 1.0 + i * 0.02) for i in range(150)]  # three seconds of silence
    frames += [(True, 4.0 + i * 0.02) for i in range(5)]
    kept = [at for loud, at in frames if rule.keep(loud, at)]
    speech, silence, again = (
        [t for t in kept if t < 1.0],
        [t for t in kept if 1.0 <= t < 4.0],
        [t for t in kept if t >= 4.0],
    )
    assert len(speech) == 50 and len(again) == 5, "every loud frame, the first one at once"
    hangover = [t for t in silence if t <= 0.98 + HANGOVER_SECONDS + 1e-9]
    assert len(hangover) == round(HANGOVER_SECONDS / 0.02)
    rest = [t for t in silence if t not in hangover]
    gaps = np.diff([hangover[-1], *rest])
    assert np.allclose(gaps, KEEPALIVE_SECONDS, atol=0.021), gaps
    # A track that starts in silence sends as if it had just talked (a new media leg
    # hears everyone at once), then keepalives.
    quiet = SilenceSuppressor()
    assert [i for i in range(80) if quiet.keep(False, i * 0.02)] == [*range(31), 50, 70]


async def test_the_track_sends_packets_stamped_with_the_time_of_their_sound() -> None:
    source = QueuedTrack("audio", keep=1000)
    sound = np.concatenate([_tone(1.0), _silence(3.0), _tone(1.0, 880.0)])
    for start in range(0, len(sound), STEP):
        frame = av.AudioFrame.from_ndarray(
            sound[start : start + STEP].reshape(1, -1), "s16", "mono"
        )
        frame.sample_rate, frame.pts = RATE, start
        frame.time_base = fractions.Fraction(1, RATE)
        source.push(frame)
    source.end()
    track = SilenceSuppressedTrack(source)
    packets: list[av.Packet] = []
    while True:
        try:
            packets.append(await asyncio.wait_for(track.recv(), 2))
        except MediaStreamError:
            break
    first = float(packets[0].pts * packets[0].time_base)
    times = [float(p.pts * p.time_base) - first for p in packets]
    in_silence = [t for t in times if 1.0 + HANGOVER_SECONDS < t < 4.0]
    assert 5 <= len(in_silence) <= 7, in_silence  # ~2.4 s at one per 0.4 s
    assert len(packets) < 140, "of 250 frames, the silent ones mostly left out"
    # Decoded as a receiver would: the first packet after the silence is the new tone,
    # whole (nothing of its start lost), and the packets are real Opus.
    decoder = OpusDecoder()
    after = next(i for i, t in enumerate(times) if t >= 4.0)
    assert times[after] == 4.0
    decoded = [
        decoder.decode(JitterFrame(bytes(p), int(p.pts)))[0].to_ndarray().reshape(-1, 2)[:, 0]
        for p in packets
    ]
    resumed = np.concatenate(decoded[after + 1 : after + 6])  # the codec's look-ahead
    assert abs(dominant_frequency(resumed.astype(np.float32), RATE) - 880) < 30
    assert np.abs(decoded[after + 2]).max() > 3000


async def test_over_the_wire_silence_costs_few_packets_and_reads_as_no_jitter() -> None:
    """Two aiortc peers on this machine: a microphone that talks half a second in every
    three; the receiver gets the talk at once and a trickle in between, and its jitter
    estimate (which the call's quality meter rates) stays as low as for steady sound."""
    sound = np.concatenate([_tone(0.5), _silence(2.5)])
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    arrived: asyncio.Queue[av.AudioFrame] = asyncio.Queue()
    readers: list[asyncio.Future[None]] = []

    @receiver.on("track")
    def _on_track(track: object) -> None:
        async def read() -> None:
            while True:
                try:
                    arrived.put_nowait(await track.recv())  # type: ignore[attr-defined]
                except MediaStreamError:
                    return

        readers.append(asyncio.ensure_future(read()))

    sender.addTrack(SilenceSuppressedTrack(SyntheticAudioTrack(sound=sound)))
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    try:
        await asyncio.wait_for(arrived.get(), 10)
        await asyncio.sleep(6.0)  # two cycles
        frames = arrived.qsize()
        stats = [s for s in (await receiver.getStats()).values() if s.type == "inbound-rtp"]
        assert len(stats) == 1
        inbound = stats[0]
        print(
            f"{frames} frames in 6 s; jitter {inbound.jitter} (1/48000 s); lost {inbound.packetsLost}"
        )
        # Steady sound would be 300 frames; two cycles of talk and silence are ~2 × (25
        # talking + 30 hangover + 4 keepalives).
        assert 90 <= frames <= 150, frames
        assert inbound.packetsLost == 0
        assert inbound.jitter / RATE < 0.030, "a gap read as jitter"
    finally:
        await sender.close()
        await receiver.close()


def _loud_frame(at: float) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(_tone(0.02).reshape(1, -1), "s16", "mono")
    frame.sample_rate, frame.pts = RATE, round(at * RATE)
    frame.time_base = fractions.Fraction(1, RATE)
    return frame


async def test_stamps_follow_the_real_clock_across_a_gap_in_the_source() -> None:
    """A source's timeline has no gaps (a mute, an echo bot relaying sparse sound): the
    stamps move on by the time that really passed; a device's bursts do not move them."""
    now = [100.0]
    source = QueuedTrack("audio", keep=10)
    track = SilenceSuppressedTrack(source, clock=lambda: now[0])

    async def stamp(at: float, clock: float) -> float:
        now[0] = clock
        source.push(_loud_frame(at))
        packet = await asyncio.wait_for(track.recv(), 2)
        return float(packet.pts * packet.time_base)

    start = await stamp(0.0, 100.0)
    assert await stamp(0.02, 100.02) - start == pytest.approx(0.02)
    # Delivered in a burst 80 ms late: still on its timeline.
    assert await stamp(0.04, 100.12) - start == pytest.approx(0.04)
    # Muted for 30 s (the timeline went on as if nothing happened): 30 s later.
    assert await stamp(0.06, 130.16) - start == pytest.approx(30.16)
    assert await stamp(0.08, 130.18) - start == pytest.approx(30.18)
