"""The managers behind ``call.camera`` / ``call.microphone`` / ``call.speaker`` and the
same on the client (``client.camera`` … for a lobby before any call).

* A camera or microphone manager hands out one :class:`GatedTrack` for its whole life.
  Disabling closes the gate — the track then yields nothing, so a muted camera sends no
  frames — and closes the device; enabling opens the selected device again behind the
  same track, so peer connections never renegotiate. Consumers (one sender per peer, a
  preview) each take a branch with :meth:`InputDeviceManager.subscribe`: two readers of one
  track would steal each other's frames, and two encoders must not share a frame.
* The user's on/off (``chosen``) is kept apart from whether the device is open
  (``status``): a call type's ``camera_default_on`` applies only until the user says, and
  leaving a call closes the devices without forgetting what the user said.
* Hot-plug: when the selected device goes away, the manager falls back to the system's
  default device (or turns off, and comes back on by itself when a device returns).
* The managers belong to the client: the lobby and every call use the same ones.
* Whatever feeds a gated track — one device after another, a switched device, the echo
  bot's relayed frames — its frames leave with the track's own monotonic timestamps
  (:mod:`desktop_app.media.timeline`), so no encoder ever sees time go backwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from enum import StrEnum
from typing import Any, Literal

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.fanout import FanOut
from desktop_app.media.mixer import RATE, AudioMixer
from desktop_app.media.timeline import Timeline

from .devices import AudioOutput, Device, DeviceBackend, default_device
from .errors import DeviceError
from .observable import Observable

log = logging.getLogger(__name__)

TEST_SOUND = "test-sound"


class DeviceStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class GatedTrack(MediaStreamTrack):
    """A track that passes on its source's frames while open and yields nothing while
    closed (``recv`` waits); every frame leaves stamped by the track's own timeline."""

    def __init__(self, kind: Literal["audio", "video"]) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        #: The source's frame being awaited now (cancelled when the source is replaced).
        self._in_flight: asyncio.Future[Any] | None = None
        self._open = asyncio.Event()
        self._timeline = Timeline()

    @property
    def source(self) -> MediaStreamTrack | None:
        return self._source

    def attach(self, source: MediaStreamTrack | None) -> None:
        """Pass on ``source`` from now on (stopping the one it replaces)."""
        if self._source is not None and self._source is not source:
            self._source.stop()
            # A frame awaited from the replaced source may never come (a stopped relay
            # branch never answers): give up on it, so the next frame is the new one's.
            if self._in_flight is not None:
                self._in_flight.cancel()
        self._source = source
        if source is None:
            self._open.clear()
        else:
            self._open.set()

    def detach(self) -> MediaStreamTrack | None:
        """Close the gate and hand the source over, still running. A frame being awaited
        from it is given up: its new owner is its only reader."""
        source, self._source = self._source, None
        self._open.clear()
        if self._in_flight is not None:
            self._in_flight.cancel()
        return source

    async def recv(self):  # type: ignore[no-untyped-def]  # aiortc's signature is untyped
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            await self._open.wait()
            source = self._source
            if source is None:
                continue
            in_flight = self._in_flight = asyncio.ensure_future(source.recv())
            try:
                frame = await in_flight
            except MediaStreamError:
                if self._source is source:  # the source ended by itself (unplugged)
                    self.attach(None)
                continue
            except asyncio.CancelledError:
                # The frame's loop, not the running one: under qasync a task can be
                # stepped where asyncio sees no running loop (current_task() raised).
                task = asyncio.current_task(in_flight.get_loop())
                if task is not None and task.cancelling():
                    raise  # our reader is being cancelled, not only the frame
                continue  # the source was replaced while its frame was awaited
            finally:
                self._in_flight = None
            if self._source is not source:
                continue  # switched or closed while the frame was on its way
            if isinstance(frame, av.AudioFrame | av.VideoFrame):
                self._timeline.stamp(frame)
            return frame

    def stop(self) -> None:
        self.attach(None)
        super().stop()
        self._open.set()  # wake a waiting ``recv`` to end (a pending waiter would linger)


class _DeviceChoice:
    """What every manager has: the devices of its kind, the selected one, hot-plug."""

    kind: Literal["camera", "microphone", "speaker"]

    def __init__(self, backend: DeviceBackend) -> None:
        self.backend = backend
        self.devices: Observable[list[Device]] = Observable(backend.list_devices(self.kind))
        self.selected: Observable[Device | None] = Observable(None)
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unwatch = backend.watch(self._devices_changed)

    def list_devices(self) -> list[Device]:
        self.devices.set(self.backend.list_devices(self.kind))
        return self.devices.value

    def _find(self, device_id: str) -> Device:
        device = next((d for d in self.list_devices() if d.id == device_id), None)
        if device is None:
            raise DeviceError(f"There is no {self.kind} {device_id!r} (is it plugged in?).")
        return device

    def _device(self) -> Device:
        device = self.selected.value or default_device(self.list_devices())
        if device is None:
            raise DeviceError(f"There is no {self.kind} to use.")
        return device

    def _devices_changed(self) -> None:
        self.list_devices()
        self._spawn(self._follow_devices())

    async def _follow_devices(self) -> None:
        """Fall back to the default when the selected device went away."""

    def _spawn(self, work: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop following hot-plug (the manager's owner is going away)."""
        self._unwatch()


class InputDeviceManager(_DeviceChoice):
    """A camera or a microphone: enable, disable, toggle, select, list, status."""

    def __init__(self, backend: DeviceBackend, kind: Literal["camera", "microphone"]) -> None:
        self.kind = kind
        super().__init__(backend)
        self.status: Observable[DeviceStatus] = Observable(DeviceStatus.DISABLED)
        #: The user's on/off; None until the user says (a call type's default applies).
        self.chosen: bool | None = None
        self.track = GatedTrack("video" if kind == "camera" else "audio")
        self._fanout = FanOut(self.track)
        #: On, but its device went away and none is left to fall back to.
        self._lost = False

    @property
    def user_chose(self) -> bool:
        return self.chosen is not None

    @property
    def enabled(self) -> bool:
        return self.status.value is DeviceStatus.ENABLED

    def subscribe(self) -> MediaStreamTrack:
        """A branch of the track for one consumer (see :mod:`desktop_app.media.fanout`)."""
        return self._fanout.subscribe()

    async def enable(self) -> None:
        self.chosen = True
        await self._set(True)

    async def disable(self) -> None:
        self.chosen = False
        await self._set(False)

    async def toggle(self) -> None:
        await (self.disable() if self.enabled else self.enable())

    async def select(self, device_id: str) -> None:
        device = self._find(device_id)
        async with self._lock:
            self.selected.set(device)
            if self.enabled:
                await self._open()

    async def apply_default(self, on: bool) -> None:
        """The call type's default, unless the user already chose."""
        await self._set(self.chosen if self.chosen is not None else on)

    def use_track(self, track: MediaStreamTrack) -> None:
        """Send ``track`` instead of a device (the echo bot sends what it receives)."""
        self.track.attach(track)
        self.status.set(DeviceStatus.ENABLED)

    def release(self) -> None:
        """Close the device (leaving a call releases every device); the user's choice stays."""
        self.track.attach(None)
        self._lost = False
        self.status.set(DeviceStatus.DISABLED)

    def _turn_off(self) -> None:
        """The user turned it off: nothing more is sent (the device closes)."""
        self.track.attach(None)

    async def _source(self, device: Device) -> MediaStreamTrack:
        """The device, opened: what the track passes on while it is on."""
        opener = self.backend.open_camera if self.kind == "camera" else self.backend.open_microphone
        try:
            return await opener(device.id)
        except DeviceError:
            raise
        except Exception as error:  # the backend's own failure (busy, permissions, …)
            raise DeviceError(
                f"The {self.kind} “{device.label}” could not be opened: {error}"
            ) from None

    def close(self) -> None:
        """The client is going away: the device closes and every consumer's branch ends."""
        self.release()
        self._fanout.close()
        self.track.stop()
        super().close()

    async def _set(self, on: bool) -> None:
        async with self._lock:
            if on and not self.enabled:
                await self._open()
                self.status.set(DeviceStatus.ENABLED)
            elif not on:
                self._turn_off()
                self._lost = False
                self.status.set(DeviceStatus.DISABLED)

    async def _open(self) -> None:
        device = self._device()
        source = await self._source(device)
        self.selected.set(device)
        self.track.attach(source)

    async def _follow_devices(self) -> None:
        async with self._lock:
            devices = self.devices.value
            current = self.selected.value
            if current is not None and current in devices and not self._lost:
                return
            fallback = default_device(devices)
            if current is not None and current not in devices:
                self.selected.set(fallback)
            if not (self.enabled or self._lost):
                return
            if fallback is None:
                self.track.attach(None)
                self._lost = True
                self.status.set(DeviceStatus.DISABLED)
                return
            try:
                await self._open()
            except DeviceError as error:
                log.warning("%s", error)
                self.track.attach(None)
                self._lost = True
                self.status.set(DeviceStatus.DISABLED)
                return
            self._lost = False
            self.status.set(DeviceStatus.ENABLED)


class SpeakerManager(_DeviceChoice):
    """Where the call's sound goes: select, list, mute (disable), volume, a test sound.

    The remote participants' audio is mixed (:class:`AudioMixer`) and the backend pulls the
    mix; ``enabled`` means the sound is on."""

    kind = "speaker"

    def __init__(self, backend: DeviceBackend) -> None:
        super().__init__(backend)
        self.status: Observable[DeviceStatus] = Observable(DeviceStatus.ENABLED)
        self.volume: Observable[float] = Observable(1.0)
        self.mixer = AudioMixer()
        self._output: AudioOutput | None = None
        self._test_timer: asyncio.TimerHandle | None = None

    @property
    def enabled(self) -> bool:
        return self.status.value is DeviceStatus.ENABLED

    @property
    def playing(self) -> bool:
        return self._output is not None

    def output_latency_ms(self) -> float:
        """How long what the mix gives now waits before the speaker plays it."""
        return self._output.latency_ms() if self._output is not None else 0.0

    async def enable(self) -> None:
        self.mixer.muted = False
        self.status.set(DeviceStatus.ENABLED)

    async def disable(self) -> None:
        self.mixer.muted = True
        self.status.set(DeviceStatus.DISABLED)

    async def toggle(self) -> None:
        await (self.disable() if self.enabled else self.enable())

    async def set_volume(self, volume: float) -> None:
        self.mixer.volume = min(1.0, max(0.0, volume))
        self.volume.set(self.mixer.volume)

    async def select(self, device_id: str) -> None:
        device = self._find(device_id)
        async with self._lock:
            self.selected.set(device)
            if self._output is not None:
                await self._reopen()

    async def start(self) -> None:
        """Start playing the mix (a call does this when it joins)."""
        async with self._lock:
            if self._output is None:
                await self._reopen()

    def stop(self) -> None:
        if self._test_timer is not None:
            self._test_timer.cancel()
            self._test_timer = None
        if self._output is not None:
            self._output.close()
            self._output = None
        self.mixer.clear()

    def close(self) -> None:
        self.stop()
        super().close()

    def play(self, key: str, frame: av.AudioFrame) -> None:
        """Add ``key``'s next frame to the mix (nothing is kept while nothing plays)."""
        if self._output is not None:
            self.mixer.push(key, frame)

    def forget(self, key: str) -> None:
        self.mixer.forget(key)

    async def play_test_sound(self, seconds: float = 1.0, frequency: float = 523.25) -> None:
        """A short tone on the selected speaker (the lobby's speaker test)."""
        started_here = self._output is None
        await self.start()
        samples = np.arange(int(seconds * RATE))
        fade = np.minimum(1.0, np.minimum(samples, samples[::-1]) / (0.02 * RATE))
        wave = (np.sin(2 * np.pi * frequency * samples / RATE) * fade * 0.3 * 32767).astype(
            np.int16
        )
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        self.mixer.push(TEST_SOUND, frame, keep_all=True)
        if started_here:
            self._test_timer = asyncio.get_running_loop().call_later(seconds + 0.2, self.stop)

    async def _reopen(self) -> None:
        device = self._device()
        if self._output is not None:
            self._output.close()
            self._output = None
        try:
            self._output = await self.backend.open_speaker(device.id, self.mixer)
        except DeviceError:
            raise
        except Exception as error:
            raise DeviceError(
                f"The speaker “{device.label}” could not be opened: {error}"
            ) from None
        self.selected.set(device)

    async def _follow_devices(self) -> None:
        async with self._lock:
            current = self.selected.value
            devices = self.devices.value
            if current is None or current in devices:
                return
            self.selected.set(default_device(devices))
            if self._output is None:
                return
            self._output.close()
            self._output = None
            if self.selected.value is not None:
                try:
                    await self._reopen()
                except DeviceError as error:
                    log.warning("%s", error)
