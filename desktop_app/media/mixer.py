"""Mixing the remote participants' audio into one stream for a speaker.

Frames are *pushed* in by whoever reads the remote tracks (the SDK drains them anyway, for
audio levels) and the mix is *pulled* out, as aiortc does it: ``await mixer.recv()`` gives
the next 20 ms of 48 kHz stereo, paced in real time, silence when nobody speaks. Each
source keeps at most :data:`MAX_BUFFERED_SECONDS` of sound — a source that falls behind
loses its oldest sound rather than growing a backlog (what a person would rather hear in
a call) — except clips queued with ``keep_all`` (a test sound).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError, MediaStreamTrack

RATE = 48_000
CHANNELS = 2
SAMPLES = int(AUDIO_PTIME * RATE)
MAX_BUFFERED_SECONDS = 0.2
#: A consumer that fell this far behind the clock starts over instead of bursting.
MAX_LAG_SECONDS = 0.2


class AudioMixer(MediaStreamTrack):
    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._buffers: dict[str, np.ndarray] = {}
        self._unbounded: set[str] = set()
        self._resamplers: dict[str, av.AudioResampler] = {}
        #: 0.0–1.0 (a gain; 1.0 leaves the sound as it came).
        self.volume = 1.0
        self.muted = False
        #: Told each 20 ms of the mix as it leaves for the speaker (the echo canceller's
        #: reference: what the room will hear).
        self.on_mix: Callable[[np.ndarray], None] | None = None
        self._start: float | None = None
        self._sent = 0  # samples since the clock (re)started
        self._pts = 0

    def push(self, key: str, frame: av.AudioFrame, *, keep_all: bool = False) -> None:
        """Add a frame of ``key``'s sound (any rate, layout or sample format)."""
        resampler = self._resamplers.get(key)
        if resampler is None:
            resampler = self._resamplers[key] = av.AudioResampler(
                format="s16", layout="stereo", rate=RATE
            )
        chunks = [f.to_ndarray().reshape(-1, CHANNELS) for f in resampler.resample(frame)]
        if not chunks:
            return
        if keep_all:
            self._unbounded.add(key)
        old = self._buffers.get(key)
        joined = np.concatenate(([old] if old is not None else []) + chunks)
        if key not in self._unbounded:
            joined = joined[-int(MAX_BUFFERED_SECONDS * RATE) :]
        self._buffers[key] = joined

    def forget(self, key: str) -> None:
        """``key`` left: drop what is still buffered of it."""
        self._buffers.pop(key, None)
        self._resamplers.pop(key, None)
        self._unbounded.discard(key)

    def clear(self) -> None:
        for key in list(self._buffers):
            self.forget(key)

    def buffered_seconds(self, key: str) -> float:
        buffer = self._buffers.get(key)
        return 0.0 if buffer is None else len(buffer) / RATE

    def mix(self) -> np.ndarray:
        """The next 20 ms: each source's oldest buffered sound, summed (int16, stereo)."""
        total = np.zeros((SAMPLES, CHANNELS), dtype=np.int32)
        for key, buffer in list(self._buffers.items()):
            taken = buffer[:SAMPLES]
            total[: len(taken)] += taken
            rest = buffer[SAMPLES:]
            if len(rest):
                self._buffers[key] = rest
            else:
                del self._buffers[key]
                self._unbounded.discard(key)
        if self.muted:
            total[:] = 0
        elif self.volume != 1.0:
            total = (total * max(0.0, self.volume)).astype(np.int32)
        return np.clip(total, -32768, 32767).astype(np.int16)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None or now - (self._start + self._sent / RATE) > MAX_LAG_SECONDS:
            self._start, self._sent = now, 0
        delay = self._start + self._sent / RATE - now
        if delay > 0:
            await asyncio.sleep(delay)
        mixed = self.mix()
        if self.on_mix is not None:
            self.on_mix(mixed)
        frame = av.AudioFrame.from_ndarray(mixed.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += SAMPLES
        self._pts += SAMPLES
        return frame
