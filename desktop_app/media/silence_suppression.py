"""Silence suppression: a microphone that hears nothing sends (almost) nothing.

In a meeting most people are silent most of the time, and every stream of sound costs
each receiver its packets, decoding and mixing — measured in an eight-person call
(docs/sdk.md), six silent but unmuted people cost a client about as much as six talking.
So, as Opus's DTX does in other products, a sender whose sound stays below
:data:`QUIET_RMS` (after noise suppression) stops sending it:

* sound above the threshold goes out at once (no first syllable is lost: there is no
  detector to convince, the first loud frame is sent), and so does the first
  :data:`HANGOVER_SECONDS` of a track (a new media leg hears everyone at once);
* after the last loud frame, :data:`HANGOVER_SECONDS` more go out (the pauses between
  words, and the receivers' level meters fall to zero on real silence);
* then one frame every :data:`KEEPALIVE_SECONDS`: the receivers go on seeing packets
  (a person who is silent with the camera off is not "lost", and a new media leg sees
  their sound arrive).

The RTP timestamps must tell the gaps as they were: a packet stamped 20 ms after the one
before yet arriving 400 ms later reads as 380 ms of jitter. aiortc's Opus encoder takes
its timestamps from its resampler, which assumes a continuous stream — so this track
encodes the frames itself (with aiortc's own encoder, fed a continuous stream) and hands
the sender finished packets, which aiortc sends as they are, stamped on the real clock:
the source's timeline (samples so far) plus an offset that grows by any time the source
fell behind the clock — a mute, or an echo bot relaying someone's suppressed sound.
Frames a device delivers in bursts stay on their own timeline (:data:`LATE_SECONDS`).

:class:`SilenceSuppressor` is the rule (sans-I/O: the caller says when each frame was
taken and whether it was loud); :class:`SilenceSuppressedTrack` the track.
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.codecs.opus import OpusEncoder
from aiortc.mediastreams import MediaStreamTrack

#: Sound below this RMS (of full scale, about -50 dBFS) is silence.
QUIET_RMS = 0.003
HANGOVER_SECONDS = 0.6
KEEPALIVE_SECONDS = 0.4
#: A frame this much later than its timeline says is after a gap in the source (more
#: than a device's bursts): the stamps move on by the gap.
LATE_SECONDS = 0.1
#: Opus's clock, and the samples of one packet (20 ms).
RATE = 48_000
SAMPLES = 960
TIME_BASE = fractions.Fraction(1, RATE)


class SilenceSuppressor:
    """Which frames to send, from their loudness and when they were taken (seconds)."""

    def __init__(
        self, hangover: float = HANGOVER_SECONDS, keepalive: float = KEEPALIVE_SECONDS
    ) -> None:
        self.hangover = hangover
        self.keepalive = keepalive
        self._last_loud: float | None = None
        self._last_sent: float | None = None

    def keep(self, loud: bool, at: float) -> bool:
        if loud or self._last_sent is None:
            self._last_loud = at  # (a track starts as if talking)
        talking = self._last_loud is not None and at - self._last_loud <= self.hangover + 1e-6
        due = self._last_sent is None or at - self._last_sent >= self.keepalive - 1e-6
        if talking or due:
            self._last_sent = at
            return True
        return False


def is_loud(frame: av.AudioFrame) -> bool:
    """Whether a frame's sound is above :data:`QUIET_RMS`."""
    samples = frame.to_ndarray()
    if samples.size == 0:
        return False
    values = samples.astype(np.float32).ravel()
    if frame.format.name.startswith("s16"):
        values /= 32768.0
    return float(np.dot(values, values)) / values.size >= QUIET_RMS * QUIET_RMS


class SilenceSuppressedTrack(MediaStreamTrack):
    """``source``'s sound as Opus packets, with its silences left out (see the module).

    ``source`` gives s16 frames (mono or stereo) on a continuous timeline — a
    microphone's, through its gate. Encoding runs on the default executor, as aiortc
    runs its own."""

    kind = "audio"

    def __init__(
        self,
        source: MediaStreamTrack,
        suppressor: SilenceSuppressor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._source = source
        self._suppressor = suppressor or SilenceSuppressor()
        self._encoder = OpusEncoder()
        self._clock = clock
        #: Real time minus the source's timeline (only grows: see the module).
        self._offset: float | None = None
        #: Samples (at 48 kHz) fed to the encoder: its own, continuous timeline.
        self._fed = 0
        #: Encoded packets not handed out yet (a frame longer than 20 ms makes several).
        self._ready: collections.deque[av.Packet] = collections.deque()  # type: ignore[type-arg]

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]  # aiortc sends packets too
        while not self._ready:
            frame = await self._source.recv()
            assert isinstance(frame, av.AudioFrame)
            at = self._real_time(_seconds(frame))
            if not self._suppressor.keep(is_loud(frame), at):
                continue
            payloads = await asyncio.get_running_loop().run_in_executor(None, self._encode, frame)
            for index, payload in enumerate(payloads):  # none: the resampler is filling
                packet = av.Packet(payload)
                packet.pts = round(at * RATE) + index * SAMPLES
                packet.time_base = TIME_BASE
                self._ready.append(packet)
        return self._ready.popleft()

    def _real_time(self, at: float) -> float:
        """``at`` on the source's timeline, on the real clock (see the module)."""
        now = self._clock()
        if self._offset is None or now - (at + self._offset) > LATE_SECONDS:
            self._offset = now - at
        return at + self._offset

    def stop(self) -> None:
        super().stop()
        self._source.stop()

    def _encode(self, frame: av.AudioFrame) -> list[bytes]:
        samples = frame.samples * RATE // frame.sample_rate
        frame.pts = self._fed * frame.sample_rate // RATE
        frame.time_base = fractions.Fraction(1, frame.sample_rate)
        self._fed += samples
        payloads, _ = self._encoder.encode(frame)
        return payloads


def _seconds(frame: av.AudioFrame) -> float:
    if frame.pts is None or frame.time_base is None:
        raise ValueError("a frame without a timestamp: the source must stamp its frames")
    return float(frame.pts * frame.time_base)
