"""The microphone: a device manager whose sound passes the audio processing stage, and
which, while a call holds it muted, keeps listening — never sending — so that the app can
say "you are muted" when the person talks into it.

A microphone that hears a room (``Device.acoustic``: the platforms' real ones) is opened
through a :class:`~desktop_app.media.audio_processing.ProcessedTrack`: everything that
sends or measures it — the peers, the lobby's meter, this listener — gets the processed
sound. Switching parts of the processing on or off needs no reopening (the processor
passes sound through when every part is off).

Listening while muted (what Meet, Zoom and Teams do): a muted microphone in a call stays
open, detached from the track the peers read, and a :class:`~desktop_app.sdk.levels.SpeechDetector`
hears it — a microphone in a room, that is: a test tone is nobody talking. Unmuting hands that open, processed source back to the track: no reopening, no
lost first syllable. Leaving the call (``release``) closes it like every device.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.audio_processing import AudioProcessor, ProcessedTrack

from .device_managers import InputDeviceManager
from .devices import Device, DeviceBackend
from .errors import DeviceError
from .levels import SpeechDetector, audio_level
from .observable import Observable


class MicrophoneManager(InputDeviceManager):
    def __init__(self, backend: DeviceBackend, processor: AudioProcessor) -> None:
        super().__init__(backend, "microphone")
        self.processor = processor
        #: Someone is talking into the muted microphone (while a call listens).
        self.speaking_while_muted: Observable[bool] = Observable(False)
        self._listening = False
        #: Open and heard only by the listener (muted in a call), with its device.
        self._parked: MediaStreamTrack | None = None
        self._parked_device: Device | None = None
        self._listener: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        """Muted, open, and heard for speech (never sent)."""
        return self._parked is not None

    async def listen_while_muted(self, on: bool) -> None:
        """A call holds the microphone (on) or let it go (off). While on, a muted
        microphone stays open and heard; a machine without one simply has no hint."""
        async with self._lock:
            self._listening = on
            if not on:
                self._unpark()
                return
            if self.enabled or self._parked is not None:
                return
            try:
                device = self._device()
                if device.acoustic:
                    self._park(await self._source(device), device)
            except DeviceError:
                return

    async def _source(self, device: Device) -> MediaStreamTrack:
        if self._parked is not None and self._parked_device == device:
            source, self._parked = self._parked, None  # unmuted: the open one goes back
            self._stop_listener()
            return source
        self._unpark()
        raw = await super()._source(device)
        return ProcessedTrack(raw, self.processor) if device.acoustic else raw

    def _turn_off(self) -> None:
        device = self.selected.value
        if not self._listening or device is None or not device.acoustic:
            super()._turn_off()
            return
        source = self.track.detach()
        if source is not None:
            self._park(source, self.selected.value)

    async def select(self, device_id: str) -> None:
        await super().select(device_id)
        async with self._lock:
            if self._parked is not None and not self.enabled:
                device = self._device()
                self._unpark()
                if device.acoustic:
                    with contextlib.suppress(DeviceError):
                        self._park(await self._source(device), device)

    def release(self) -> None:
        self._listening = False
        self._unpark()
        super().release()

    def _park(self, source: MediaStreamTrack, device: Device | None) -> None:
        self._parked, self._parked_device = source, device
        self._listener = asyncio.ensure_future(self._listen(source))

    def _unpark(self) -> None:
        self._stop_listener()
        if self._parked is not None:
            self._parked.stop()
            self._parked = self._parked_device = None

    def _stop_listener(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None
        self.speaking_while_muted.set(False)

    async def _listen(self, source: MediaStreamTrack) -> None:
        detector = SpeechDetector()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await source.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                speaking = detector.feed(audio_level(frame), time.monotonic())
                if speaking != self.speaking_while_muted.value:
                    self.speaking_while_muted.set(speaking)
        self.speaking_while_muted.set(False)  # the device went away
