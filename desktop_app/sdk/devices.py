"""Devices: a small backend interface, the synthetic backend, and the managers behind
``call.camera`` / ``call.microphone`` (usable in a lobby before any call, too).

A manager hands out one :class:`GatedTrack` for the whole call. Disabling the device
closes the gate — the track then yields nothing, so a muted camera sends no frames — and
stops the source; enabling opens the selected device again behind the same track, so
peer connections never need renegotiating.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.synthetic import SyntheticAudioTrack, SyntheticVideoTrack

from .observable import Observable

DeviceKind = Literal["camera", "microphone", "speaker"]


@dataclass(frozen=True)
class Device:
    id: str
    label: str
    kind: DeviceKind


class DeviceBackend(Protocol):
    """What the SDK needs from a platform's devices (the UI supplies a Qt one)."""

    def list_devices(self, kind: DeviceKind) -> list[Device]: ...

    def open_camera(self, device_id: str) -> MediaStreamTrack: ...

    def open_microphone(self, device_id: str) -> MediaStreamTrack: ...


class NoDevices:
    """A machine with nothing plugged in (the default until an app supplies its devices)."""

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        return []

    def open_camera(self, device_id: str) -> MediaStreamTrack:
        raise LookupError("There is no camera.")

    def open_microphone(self, device_id: str) -> MediaStreamTrack:
        raise LookupError("There is no microphone.")


class SyntheticDevices:
    """A test-pattern camera and a tone microphone; nothing to plug in, same on every host."""

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        fps: int = 30,
        tone_hz: float = 440.0,
        captured_at: dict[int, float] | None = None,
    ) -> None:
        self.width, self.height, self.fps, self.tone_hz = width, height, fps, tone_hz
        #: Shared with every camera opened, for latency measurements (see synthetic.py).
        self.captured_at = captured_at

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        labels = {
            "camera": "Test pattern",
            "microphone": f"{self.tone_hz:g} Hz tone",
            "speaker": "Nowhere",
        }
        return [Device(f"synthetic-{kind}", labels[kind], kind)]

    def open_camera(self, device_id: str) -> MediaStreamTrack:
        camera = SyntheticVideoTrack(self.width, self.height, self.fps)
        camera.captured_at = self.captured_at
        return camera

    def open_microphone(self, device_id: str) -> MediaStreamTrack:
        return SyntheticAudioTrack(self.tone_hz)


class DeviceStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class GatedTrack(MediaStreamTrack):
    """A track that passes on its source's frames while open and yields nothing while
    closed (``recv`` waits)."""

    def __init__(self, kind: Literal["audio", "video"]) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._open = asyncio.Event()

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def attach(self, source: MediaStreamTrack | None) -> None:
        if self._source is not None and self._source is not source:
            self._source.stop()
        self._source = source
        if source is None:
            self._open.clear()
        else:
            self._open.set()

    async def recv(self):  # type: ignore[no-untyped-def]  # aiortc's signature is untyped
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._open.wait()
            source = self._source
            if source is None:
                continue
            try:
                return await source.recv()
            except MediaStreamError:
                if self._source is source:  # the source ended by itself
                    self.attach(None)

    def stop(self) -> None:
        self.attach(None)
        super().stop()


class InputDeviceManager:
    """``call.camera`` or ``call.microphone``: enable, disable, toggle, select, list."""

    def __init__(self, backend: DeviceBackend, kind: Literal["camera", "microphone"]) -> None:
        self.backend = backend
        self.kind = kind
        self.status: Observable[DeviceStatus] = Observable(DeviceStatus.DISABLED)
        self.selected: Observable[Device | None] = Observable(None)
        #: True once the user (not a call type default) said on or off.
        self.user_chose = False
        self.track = GatedTrack("video" if kind == "camera" else "audio")

    def list_devices(self) -> list[Device]:
        return self.backend.list_devices(self.kind)

    def _device(self) -> Device | None:
        if self.selected.value is not None:
            return self.selected.value
        devices = self.list_devices()
        return devices[0] if devices else None

    def _open(self) -> None:
        device = self._device()
        if device is None:
            raise LookupError(f"There is no {self.kind} to use.")
        self.selected.set(device)
        opener = self.backend.open_camera if self.kind == "camera" else self.backend.open_microphone
        self.track.attach(opener(device.id))

    async def enable(self) -> None:
        self.user_chose = True
        self._set(True)

    async def disable(self) -> None:
        self.user_chose = True
        self._set(False)

    async def toggle(self) -> None:
        await (self.disable() if self.enabled else self.enable())

    async def select(self, device_id: str) -> None:
        device = next((d for d in self.list_devices() if d.id == device_id), None)
        if device is None:
            raise LookupError(f"There is no {self.kind} {device_id!r}.")
        self.selected.set(device)
        if self.enabled:
            self._open()

    def use_track(self, track: MediaStreamTrack) -> None:
        """Send ``track`` instead of a device (the echo bot sends what it receives)."""
        self.track.attach(track)
        self.status.set(DeviceStatus.ENABLED)

    def apply_default(self, on: bool) -> None:
        """The call type's default, unless the user already chose."""
        if not self.user_chose:
            self._set(on)

    def _set(self, on: bool) -> None:
        if on and not self.enabled:
            self._open()
        elif not on:
            self.track.attach(None)
        self.status.set(DeviceStatus.ENABLED if on else DeviceStatus.DISABLED)

    @property
    def enabled(self) -> bool:
        return self.status.value is DeviceStatus.ENABLED

    def release(self) -> None:
        """Close the device (leaving a call releases every device)."""
        self.track.attach(None)
        self.status.set(DeviceStatus.DISABLED)
