"""The microphone's audio processing: WebRTC's audio processing module (the ``livekit``
wheel's ``rtc.AudioProcessingModule``) — echo cancellation, noise suppression, a
high-pass filter and automatic gain control — between the microphone and everything that
sends it or measures it.

Echo cancellation needs to know what the speaker played: :meth:`AudioProcessor.render`
takes the speaker's mix as it leaves for the device, :meth:`AudioProcessor.capture` the
microphone's sound as it arrives. The module works on 10 ms steps of 48 kHz mono 16-bit
sound; what arrives in other sizes is cut into steps here (a partial step waits for the
next frame: at most 10 ms held back). Both calls come from the event loop's thread (the
mixer is pulled there, and every device backend delivers frames there), so nothing here
locks.

The delay between a sound rendered and its echo captured is given to the module before
each step (``set_stream_delay_ms``): what the speaker still had queued ahead of the sound
when it was rendered (:attr:`AudioProcessor.render_latency`, the speaker backend's own
count) plus how old the microphone's frame was when it reached us (its length: a frame is
handed over once its last sample is in). It is a hint: the module's echo canceller (AEC3)
finds the true delay itself, so the air and the sound server's own buffers, which no
backend reports, cost nothing measurable (``docs/sdk.md``).
"""

from __future__ import annotations

import fractions
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

if TYPE_CHECKING:
    from livekit import rtc  # loaded with the module (AudioProcessor)

RATE = 48_000
#: One step of the module: 10 ms.
STEP = RATE // 100


@dataclass(frozen=True)
class AudioProcessingSettings:
    """Which parts run. Echo cancellation, noise suppression and the high-pass filter are
    on by default, as in every calling product. Gain control is off by default: the
    binding's gain controller raises the gain in speech pauses until the noise the
    suppressor took out (~15 dB) is back (measured: ``tests/media/test_audio_processing.py``),
    and the binding does not expose the controller's noise limit. It is a switch for a
    quiet microphone."""

    echo_cancellation: bool = True
    noise_suppression: bool = True
    high_pass_filter: bool = True
    auto_gain_control: bool = False

    @property
    def any(self) -> bool:
        return (
            self.echo_cancellation
            or self.noise_suppression
            or self.high_pass_filter
            or self.auto_gain_control
        )

    @classmethod
    def none(cls) -> AudioProcessingSettings:
        return cls(False, False, False, False)


class _Steps:
    """Samples cut into 10 ms steps; what is left over waits for more."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)

    def cut(self, samples: np.ndarray) -> list[np.ndarray]:
        joined = np.concatenate((self._pending, samples)) if len(self._pending) else samples
        whole = len(joined) // STEP * STEP
        self._pending = joined[whole:].copy()
        return [joined[i : i + STEP] for i in range(0, whole, STEP)]


class AudioProcessor:
    """One microphone's processing, with the speaker's sound as the echo reference.

    The module is made when a processed microphone opens, not before: loading the native
    library takes ~0.15 s, which the app's start (and a client without a real
    microphone) need not pay."""

    def __init__(self, settings: AudioProcessingSettings | None = None) -> None:
        #: Milliseconds of sound queued in the speaker now (set by the client: the
        #: speaker backend's own count).
        self.render_latency: Callable[[], float] = lambda: 0.0
        #: Processed microphones open now: the speaker's sound is analysed only for them.
        self.microphones = 0
        self._settings = settings or AudioProcessingSettings()
        self._module: rtc.AudioProcessingModule | None = None
        self._near = _Steps()
        self._far = _Steps()

    @property
    def settings(self) -> AudioProcessingSettings:
        return self._settings

    def configure(self, settings: AudioProcessingSettings) -> None:
        """Switch parts on or off. The module is made anew (its parts are chosen when it
        is made): the echo canceller converges again, within a couple of seconds."""
        if settings == self._settings:
            return
        self._settings = settings
        # With no microphone open, the next one to open makes it (with these parts).
        self._module = self._make() if self.microphones else None

    def microphone_opened(self) -> None:
        self.microphones += 1
        if self._module is None:
            self._module = self._make()

    def microphone_closed(self) -> None:
        """The last processed microphone closed: the module goes with it, and the next
        microphone starts with a fresh one. A module kept between calls carried the echo
        canceller's picture of the last call's room into the next one, where it let the
        noise through (measured: noise sent ~8 dB louder from the second call on)."""
        self.microphones = max(0, self.microphones - 1)
        if not self.microphones:
            self._module = None
            self._near, self._far = _Steps(), _Steps()  # no last call's partial step

    def _make(self) -> rtc.AudioProcessingModule | None:
        settings = self._settings
        if not settings.any:
            return None
        from livekit import rtc  # loaded late: see the class docstring

        return rtc.AudioProcessingModule(
            echo_cancellation=settings.echo_cancellation,
            noise_suppression=settings.noise_suppression,
            high_pass_filter=settings.high_pass_filter,
            auto_gain_control=settings.auto_gain_control,
        )

    def render(self, samples: np.ndarray) -> None:
        """What the speaker is about to play (int16, 48 kHz; stereo as (n, 2) is mixed
        down): the echo canceller's reference."""
        module = self._module
        if module is None or not self._settings.echo_cancellation or not self.microphones:
            return
        mono = _mono(samples)
        for step in self._far.cut(mono):
            module.process_reverse_stream(_frame(step))

    def capture(self, samples: np.ndarray, captured_ms: float = 0.0) -> np.ndarray:
        """The microphone's sound (int16 mono, 48 kHz) processed: the whole steps done so
        far (the same length over time; a frame's tail may come out with the next).
        ``captured_ms``: how long ago its first sample was heard."""
        module = self._module
        if module is None:
            return samples
        delay_ms = max(0, round(self.render_latency() + captured_ms))
        out = []
        for step in self._near.cut(samples):
            frame = _frame(step)
            if self._settings.echo_cancellation:
                module.set_stream_delay_ms(delay_ms)
            module.process_stream(frame)
            out.append(np.frombuffer(frame.data, dtype=np.int16))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int16)


def _mono(samples: np.ndarray) -> np.ndarray:
    if samples.ndim == 2 and samples.shape[1] > 1:
        mixed: np.ndarray = samples.astype(np.int32).mean(axis=1).astype(np.int16)
        return mixed
    flat: np.ndarray = samples.reshape(-1).astype(np.int16, copy=False)
    return flat


def _frame(step: np.ndarray) -> rtc.AudioFrame:
    from livekit import rtc  # loaded with the module (AudioProcessor)

    return rtc.AudioFrame(bytearray(step.tobytes()), RATE, 1, STEP)


#: What a processed microphone hands on at a time: 20 ms, as every backend's microphone.
FRAME = 2 * STEP


class ProcessedTrack(MediaStreamTrack):
    """A microphone's track through an :class:`AudioProcessor`: 20 ms frames of 48 kHz
    mono 16-bit sound, whatever the device delivers. Stopping it stops the microphone."""

    kind = "audio"

    def __init__(self, source: MediaStreamTrack, processor: AudioProcessor) -> None:
        super().__init__()
        self.source = source
        self._processor = processor
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self._ready = np.zeros(0, dtype=np.int16)
        self._pts = 0
        processor.microphone_opened()

    async def recv(self) -> av.AudioFrame:
        while len(self._ready) < FRAME:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self.source.recv()
            if not isinstance(frame, av.AudioFrame):
                continue
            captured_ms = 1000 * frame.samples / frame.sample_rate
            for chunk in self._resampler.resample(frame):
                done = self._processor.capture(chunk.to_ndarray().reshape(-1), captured_ms)
                self._ready = np.concatenate((self._ready, done))
        samples, self._ready = self._ready[:FRAME], self._ready[FRAME:]
        out = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        out.sample_rate = RATE
        out.pts = self._pts
        out.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return out

    def stop(self) -> None:
        if self.readyState == "live":
            self._processor.microphone_closed()
        self.source.stop()
        super().stop()
