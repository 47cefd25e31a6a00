"""Synthetic camera and microphone: for tests, bots and machines without devices.

The picture is PyAV's ``lavfi`` ``testsrc2`` pattern with the frame number drawn into it
as a row of large black-or-white blocks (one bit each), big enough to survive VP8 or
H.264 compression, so that a receiver can read which frame it got
(:func:`read_frame_counter`). The sound is a sine tone (440 Hz by default), or a given
recording played over and over (speech for the audio processing's tests and bots).

Tracks are *pulled*, as aiortc does it: ``await track.recv()`` gives the next frame, paced
in real time.
"""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError, MediaStreamTrack

COUNTER_BITS = 16
BLOCK = 32  # pixels per bit block (and the band's height)
VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000


def _pattern(width: int, height: int) -> np.ndarray:
    """One frame of lavfi's testsrc2, as RGB."""
    container = av.open(f"testsrc2=size={width}x{height}:rate=30", format="lavfi")
    try:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def draw_frame_counter(image: np.ndarray, number: int) -> None:
    """Write ``number`` into the top band of ``image`` (in place), most significant bit left."""
    for bit in range(COUNTER_BITS):
        on = (number >> (COUNTER_BITS - 1 - bit)) & 1
        image[:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 255 if on else 0


def read_frame_counter(frame: av.VideoFrame) -> int:
    """The frame number drawn by :func:`draw_frame_counter`, read from a received frame."""
    gray = frame.to_ndarray(format="gray")
    scale_x = frame.width / gray.shape[1]
    number = 0
    for bit in range(COUNTER_BITS):
        x0 = int(bit * BLOCK / scale_x) + 4
        x1 = int((bit + 1) * BLOCK / scale_x) - 4
        block = gray[4 : BLOCK - 4, x0:x1]
        number = (number << 1) | int(block.mean() > 127)
    return number


class SyntheticVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width & ~1, height & ~1, fps  # yuv420p: even
        # The picture is made in yuv420p, what encoders take: converting an RGB picture
        # each frame cost the thread that pulls the camera (the app's) ~2 ms a frame.
        self._base = _in_yuv(_pattern(self.width, self.height))
        self._bar = [plane[0, 0] for plane in _in_yuv(np.full((2, 2, 3), BAR_COLOR, np.uint8))]
        self._number = 0
        self._start: float | None = None
        #: When set, frame number → time.perf_counter() at capture (latency measurements).
        self.captured_at: dict[int, float] | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._number / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma, u, v = _planes(frame)
        for plane, base in zip((luma, u, v), self._base, strict=True):
            plane[:] = base
        shift = (self._number * 4) % self.width  # a moving bar, so that frames differ
        bar = slice(shift, shift + 64), slice(shift // 2, (shift + 64) // 2)
        luma[self.height - 16 :, bar[0]] = self._bar[0]
        u[(self.height - 16) // 2 :, bar[1]] = self._bar[1]
        v[(self.height - 16) // 2 :, bar[1]] = self._bar[2]
        draw_frame_counter(luma, self._number % (1 << COUNTER_BITS))
        u[: BLOCK // 2, : COUNTER_BITS * BLOCK // 2] = 128  # the counter's band is grey
        v[: BLOCK // 2, : COUNTER_BITS * BLOCK // 2] = 128
        frame.pts = int(self._number * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        if self.captured_at is not None:
            self.captured_at[self._number % (1 << COUNTER_BITS)] = time.perf_counter()
        self._number += 1
        return frame


BAR_COLOR = (255, 64, 0)


def _in_yuv(rgb: np.ndarray) -> list[np.ndarray]:
    """An RGB picture's luma, u and v planes (yuv420p)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return [plane.copy() for plane in _planes(frame.reformat(format="yuv420p", threads=1))]


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    """Writable views of a yuv420p frame's luma, u and v planes (without the padding
    at the end of each row)."""
    return [
        np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)[
            :, : plane.width
        ]
        for plane in frame.planes
    ]


class SyntheticAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self, frequency: float = 440.0, volume: float = 0.3, sound: np.ndarray | None = None
    ) -> None:
        """A tone of ``frequency``, or ``sound`` (int16 mono 48 kHz samples) in a loop."""
        super().__init__()
        self.frequency = frequency
        self.volume = volume
        self.sound = sound
        self._samples = int(AUDIO_PTIME * AUDIO_RATE)
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._sent / AUDIO_RATE
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if self.sound is not None and len(self.sound):
            where = (np.arange(self._samples) + self._sent) % len(self.sound)
            wave = self.sound[where].astype(np.int16)
        else:
            t = (np.arange(self._samples) + self._sent) / AUDIO_RATE
            wave = (np.sin(2 * np.pi * self.frequency * t) * self.volume * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._sent += self._samples
        return frame


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    """The strongest frequency in ``samples`` (mono), for checking a received tone."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0
    return float(np.argmax(spectrum) * rate / len(samples))
