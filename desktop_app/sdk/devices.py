"""Devices: the small interface a platform's devices are reached through, and the
synthetic backend (tests, bots, machines with nothing plugged in).

A backend lists devices, opens a camera or a microphone as an aiortc track (``async``:
opening real hardware takes a while, and a Qt backend must do it on its own thread),
plays a pulled audio track on a speaker, and tells listeners when devices come and go.
The SDK ships :class:`SyntheticDevices` and :class:`~desktop_app.sdk.capture.CaptureDevices`
(PyAV); the desktop app supplies a Qt Multimedia one. The managers that use a backend —
``call.camera`` and friends — live in :mod:`desktop_app.sdk.device_managers`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack

from .errors import DeviceError

DeviceKind = Literal["camera", "microphone", "speaker"]
Unwatch = Callable[[], None]


@dataclass(frozen=True)
class Device:
    id: str
    label: str
    kind: DeviceKind
    #: The system's default of its kind (what to fall back to when a device goes away).
    is_default: bool = False
    #: A microphone that hears a room — and so the speakers in it, and its noise: its
    #: sound is processed (echo cancellation, noise suppression, gain). The platforms'
    #: microphones are; a test tone is not (echo cancellation would take a far end
    #: playing the same tone for its echo, and noise suppression would take it for noise).
    acoustic: bool = False


class Listeners:
    """Who to tell when devices come and go: ``watch`` for a backend, ``notify`` on change."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._listeners)

    def watch(self, listener: Callable[[], None]) -> Unwatch:
        self._listeners.append(listener)

        def unwatch() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unwatch

    def notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def default_device(devices: list[Device]) -> Device | None:
    return next((d for d in devices if d.is_default), devices[0] if devices else None)


class AudioOutput(Protocol):
    """A speaker playing a track; closing it stops the sound."""

    def latency_ms(self) -> float:
        """How long a sound pulled now waits before it is played: what is queued ahead
        of it (the echo canceller's delay hint)."""
        ...

    def close(self) -> None: ...


class DeviceBackend(Protocol):
    """What the SDK needs from a platform's devices."""

    def list_devices(self, kind: DeviceKind) -> list[Device]: ...

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        """A live video track, or :class:`DeviceError` saying why not."""
        ...

    async def open_microphone(self, device_id: str) -> MediaStreamTrack: ...

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        """Start pulling ``sound`` and playing it on the device."""
        ...

    def watch(self, listener: Callable[[], None]) -> Unwatch:
        """Call ``listener`` whenever a device is plugged in or out."""
        ...


class NoDevices:
    """A machine with nothing plugged in (the default until an app supplies its devices)."""

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        return []

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        raise DeviceError("There is no camera.")

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        raise DeviceError("There is no microphone.")

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        raise DeviceError("There is no speaker.")

    def watch(self, listener: Callable[[], None]) -> Unwatch:
        return lambda: None


class SyntheticSpeaker:
    """A speaker that plays into memory: it keeps the last second it was given, so a test
    can hear what a person would have heard."""

    KEEP_SECONDS = 1.0

    def __init__(
        self, device_id: str, sound: MediaStreamTrack, keep_seconds: float = KEEP_SECONDS
    ) -> None:
        self.device_id = device_id
        self.rate = 48_000
        self.frames_played = 0
        self._recent: collections.deque[np.ndarray] = collections.deque(
            maxlen=int(keep_seconds / 0.02)
        )
        self._sound = sound
        self._task = asyncio.get_running_loop().create_task(self._play())
        self.closed = False

    async def _play(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self._sound.recv()
                assert isinstance(frame, av.AudioFrame)
                channels = len(frame.layout.channels)
                samples = frame.to_ndarray().reshape(-1, channels).mean(axis=1)
                self.rate = frame.sample_rate
                self._recent.append(samples)
                self.frames_played += 1

    def heard(self, seconds: float = 0.5) -> np.ndarray:
        """The last ``seconds`` of sound played (mono, as floats in int16 units)."""
        if not self._recent:
            return np.zeros(0)
        return np.concatenate(list(self._recent))[-int(seconds * self.rate) :]

    def latency_ms(self) -> float:
        return 0.0  # played the moment it is pulled

    def close(self) -> None:
        self.closed = True
        self._task.cancel()


class SyntheticDevices:
    """A test-pattern camera, a tone microphone and a speaker that records; more can be
    plugged in and pulled out, as a person does with a USB headset."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        tone_hz: float = 440.0,
        captured_at: dict[int, float] | None = None,
        keep_seconds: float = SyntheticSpeaker.KEEP_SECONDS,
    ) -> None:
        """``keep_seconds``: how much of what they played the speakers keep for a test."""
        self.width, self.height, self.fps, self.tone_hz = width, height, fps, tone_hz
        self.keep_seconds = keep_seconds
        #: Shared with every camera opened, for latency measurements (see synthetic.py).
        self.captured_at = captured_at
        self._devices: dict[str, Device] = {}
        self._tones: dict[str, float] = {}
        self._sounds: dict[str, np.ndarray] = {}
        self._open: dict[str, list[MediaStreamTrack]] = {}
        self._listeners = Listeners()
        #: Every speaker output opened, newest last (tests listen to them).
        self.speakers: list[SyntheticSpeaker] = []
        self.plug(Device("synthetic-camera", "Test pattern", "camera", is_default=True))
        self.plug(
            Device("synthetic-microphone", f"{tone_hz:g} Hz tone", "microphone", is_default=True)
        )
        self.plug(Device("synthetic-speaker", "Test speaker", "speaker", is_default=True))

    def plug(
        self, device: Device, tone_hz: float | None = None, sound: np.ndarray | None = None
    ) -> None:
        """Add a device; a microphone plays ``tone_hz`` (0: silence) or ``sound`` (int16
        mono 48 kHz samples, in a loop)."""
        self._devices[device.id] = device
        if tone_hz is not None:
            self._tones[device.id] = tone_hz
        if sound is not None:
            self._sounds[device.id] = sound
        self._changed()

    def unplug(self, device_id: str) -> None:
        """Take a device away; whatever is reading it sees its track end, as with a real
        unplug, and watchers hear of the change."""
        self._devices.pop(device_id, None)
        for track in self._open.pop(device_id, []):
            track.stop()
        for speaker in self.speakers:
            if speaker.device_id == device_id:
                speaker.close()
        self._changed()

    def _changed(self) -> None:
        self._listeners.notify()

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        return [d for d in self._devices.values() if d.kind == kind]

    def _check(self, device_id: str, kind: DeviceKind) -> None:
        device = self._devices.get(device_id)
        if device is None or device.kind != kind:
            raise DeviceError(f"The {kind} {device_id!r} is not connected.")

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        self._check(device_id, "camera")
        camera = SyntheticVideoTrack(self.width, self.height, self.fps)
        camera.captured_at = self.captured_at
        self._open.setdefault(device_id, []).append(camera)
        return camera

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        self._check(device_id, "microphone")
        microphone = SyntheticAudioTrack(
            self._tones.get(device_id, self.tone_hz), sound=self._sounds.get(device_id)
        )
        self._open.setdefault(device_id, []).append(microphone)
        return microphone

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        self._check(device_id, "speaker")
        speaker = SyntheticSpeaker(device_id, sound, self.keep_seconds)
        self.speakers.append(speaker)
        return speaker

    def watch(self, listener: Callable[[], None]) -> Unwatch:
        return self._listeners.watch(listener)
