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
        #: Counts every "stop listening" (a release, a call letting go): an open that was
        #: under way then is closed again instead of parked.
        self._generation = 0
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
        microphone that hears a room stays open and heard; a machine without one simply
        has no hint."""
        async with self._lock:
            if not on:
                self._stop_listening()
                return
            self._listening = True
            await self._listen_to_selected()

    def release(self) -> None:
        self._stop_listening()
        super().release()

    async def select(self, device_id: str) -> None:
        await super().select(device_id)
        async with self._lock:
            await self._listen_to_selected()

    async def _follow_devices(self) -> None:
        await super()._follow_devices()
        async with self._lock:  # the parked device went away: listen to the fallback
            await self._listen_to_selected()

    async def _listen_to_selected(self) -> None:
        """Listening and muted: the selected device (if it hears a room) is what is
        parked — opened, switched or dropped as needed. Called under the lock."""
        if not self._listening or self.enabled:
            return
        try:
            device = self._device()
        except DeviceError:
            device = None
        if self._parked is not None and self._parked_device == device and self._alive():
            return
        self._unpark()
        if device is None or not device.acoustic:
            return
        generation = self._generation
        try:
            source = await self._source(device)
        except DeviceError:
            return
        if generation != self._generation or not self._listening or self.enabled:
            source.stop()  # let go while it was opening
            return
        self._park(source, device)

    def _alive(self) -> bool:
        parked, listener = self._parked, self._listener
        return (
            parked is not None
            and parked.readyState == "live"
            and listener is not None
            and not listener.done()
        )

    async def _source(self, device: Device) -> MediaStreamTrack:
        if self._parked is not None and self._parked_device == device and self._alive():
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
            self._park(source, device)

    def _stop_listening(self) -> None:
        self._listening = False
        self._generation += 1
        self._unpark()

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
        # The device went away (unplugged): nothing is heard; hot-plug may park another.
        if self._parked is source:
            source.stop()
            self._parked = self._parked_device = None
        self.speaking_while_muted.set(False)
