"""One monotonic clock per local track, whatever feeds it.

Encoders refuse time that goes backwards: libvpx (aiortc's VP8 encoder) raises
``InvalidDataError`` from ``avcodec_send_frame()`` on a frame whose ``pts`` is not after
the previous one, and the sender dies for the rest of the call. A local track is fed by
one device after another — the camera turned off and on is a new capture with a clock
that starts at zero again, a switched device has a clock of its own, the echo bot sends
frames stamped by someone else's sender — so the track stamps every frame itself:

* **video**: the time since the track's first frame, on the 90 kHz RTP clock, and always
  at least one tick after the frame before (a gap while the camera was off shows as the
  gap it was);
* **audio**: the samples sent so far, with no gaps, so the Opus encoder's resampler sees
  one continuous stream (a gap in sound is silence the receiver never had to wait for).
"""

from __future__ import annotations

import fractions
import time
from collections.abc import Callable

import av

VIDEO_CLOCK = 90_000


class Timeline:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: float | None = None
        self._next_video = 0
        self._next_audio = 0
        self._audio_rate: int | None = None

    def stamp(self, frame: av.VideoFrame | av.AudioFrame) -> None:
        """Give ``frame`` the next time of this track (in place)."""
        if isinstance(frame, av.AudioFrame):
            self._stamp_audio(frame)
        else:
            self._stamp_video(frame)

    def _stamp_video(self, frame: av.VideoFrame) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        pts = max(self._next_video, round((now - self._started) * VIDEO_CLOCK))
        frame.pts = pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._next_video = pts + 1

    def _stamp_audio(self, frame: av.AudioFrame) -> None:
        rate = frame.sample_rate
        if self._audio_rate is not None and rate != self._audio_rate:
            # A device with another rate: carry the time over into its samples.
            self._next_audio = round(self._next_audio * rate / self._audio_rate)
        self._audio_rate = rate
        frame.pts = self._next_audio
        frame.time_base = fractions.Fraction(1, rate)
        self._next_audio += frame.samples
