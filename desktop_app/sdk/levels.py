"""Who is speaking: audio levels of the remote participants and the dominant speaker.

The SDK reads every remote track itself (aiortc queues decoded frames until someone
does, so a track nobody read would grow for the whole call). Audio frames pass through
:func:`audio_level` on the way; the app gets its own branch of each track.
"""

from __future__ import annotations

import collections
import math

import av
import numpy as np

from desktop_app.media.silence_suppression import QUIET_RMS

#: Levels below this are silence (about -50 dBFS): what a sender's silence suppression
#: leaves out, so a level the others see is never one nobody sent.
SILENCE = QUIET_RMS
#: How much a new frame's level counts against the running level (smoothing).
ATTACK = 0.5
RELEASE = 0.1


def audio_level(frame: av.AudioFrame) -> float:
    """Loudness of one frame from 0 (silence) to 1 (full scale), on a dB scale so that
    speech moves the meter visibly."""
    samples = frame.to_ndarray().astype(np.float32)
    if samples.size == 0:
        return 0.0
    peak = 32768.0 if frame.format.name.startswith("s16") else 1.0
    rms = float(np.sqrt(np.mean(np.square(samples / peak))))
    if rms < SILENCE:
        return 0.0
    return max(0.0, min(1.0, 1.0 + 20 * math.log10(rms) / 50))  # -50 dB → 0, 0 dB → 1


def smooth(previous: float, current: float) -> float:
    rate = ATTACK if current > previous else RELEASE
    return previous + (current - previous) * rate


def loudest(levels: dict[str, float], current: str | None, hold: float = 0.1) -> str | None:
    """The dominant speaker: the loudest one, kept until another is clearly louder."""
    speaking = {k: v for k, v in levels.items() if v > 0.05}
    if not speaking:
        return None
    best = max(speaking, key=speaking.__getitem__)
    if current in speaking and speaking[best] - speaking[current] < hold:
        return current
    return best


class SpeechDetector:
    """Whether someone is talking into a microphone, from its frames' levels: a quarter
    of a second of sound above :attr:`threshold` within half a second starts it (a click
    or a cough does not), a second and a half without any ends it. Fed the *processed*
    sound, so the speakers' echo and steady noise do not count. Sans-I/O: the caller says
    when each level was measured."""

    def __init__(
        self,
        threshold: float = 0.3,  # about -35 dBFS: a voice near the microphone, not a room
        onset: float = 0.25,
        window: float = 0.5,
        hangover: float = 1.5,
        frame_seconds: float = 0.02,
    ) -> None:
        self.threshold, self.onset, self.window = threshold, onset, window
        self.hangover, self.frame_seconds = hangover, frame_seconds
        self.speaking = False
        self._loud: collections.deque[float] = collections.deque()
        self._last_loud = -math.inf

    def feed(self, level: float, at: float) -> bool:
        if level >= self.threshold:
            self._loud.append(at)
            self._last_loud = at
        while self._loud and self._loud[0] <= at - self.window:
            self._loud.popleft()
        if len(self._loud) * self.frame_seconds >= self.onset:
            self.speaking = True
        elif at - self._last_loud > self.hangover:
            self.speaking = False
        return self.speaking
