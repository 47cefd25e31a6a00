"""``CaptureDevices``: the platform's real devices through PyAV (libavdevice).

| platform | cameras | microphones | speakers |
|---|---|---|---|
| Linux | v4l2 (`/dev/video*`) | ALSA (`default`, `hw:C,D`) | ALSA |
| macOS | avfoundation | avfoundation | — (the app's Qt backend plays sound) |
| Windows | dshow | dshow | — (the app's Qt backend plays sound) |

Devices are listed from the system (sysfs and ``/proc/asound`` on Linux; libavdevice's own
``list_devices`` report elsewhere) and listed again every ``poll_seconds`` while someone
watches, which is how hot-plug is noticed (libavdevice has no device events).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import av
import av.logging
from aiortc.mediastreams import MediaStreamTrack

from desktop_app.media.capture import CaptureTrack, SpeakerOutput, configure_alsa, open_input

from .devices import AudioOutput, Device, DeviceKind, Listeners, Unwatch
from .errors import DeviceError

CAMERA_OPTIONS = {"framerate": "30", "video_size": "640x480"}
ALSA_OPTIONS = {"sample_rate": "48000", "channels": "1"}


def _linux_cameras(sysfs: Path = Path("/sys/class/video4linux")) -> list[Device]:
    cameras = []
    for entry in sorted(sysfs.glob("video*")) if sysfs.is_dir() else []:
        name_file = entry / "name"
        label = name_file.read_text().strip() if name_file.exists() else entry.name
        index_file = entry / "index"  # a camera has several nodes; index 0 is the picture
        if index_file.exists() and index_file.read_text().strip() != "0":
            continue
        cameras.append(Device(f"/dev/{entry.name}", label, "camera"))
    return [Device(c.id, c.label, c.kind, is_default=i == 0) for i, c in enumerate(cameras)]


def _sound_server_running() -> bool:
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}"))
    return (runtime / "pulse" / "native").exists() or (runtime / "pipewire-0").exists()


def _linux_alsa(kind: DeviceKind, pcm: Path = Path("/proc/asound/pcm")) -> list[Device]:
    """``default`` (what the system mixes through: PulseAudio, PipeWire) and each card;
    nothing at all on a machine with neither a sound card nor a sound server."""
    direction = "capture" if kind == "microphone" else "playback"
    lines = pcm.read_text().splitlines() if pcm.exists() else []
    if not lines and not _sound_server_running():
        return []
    found = [Device("default", "System default", kind, is_default=True)]
    for line in lines:  # "00-00: ALC3246 Analog : ALC3246 Analog : playback 1 : capture 1"
        match = re.match(r"(\d+)-(\d+): ([^:]*):", line)
        if match and f"{direction} " in line:
            card, device, label = int(match[1]), int(match[2]), match[3].strip()
            found.append(Device(f"hw:{card},{device}", label, kind))
    return found


def _reported_devices(format: str, kind: DeviceKind) -> list[Device]:
    """libavdevice's ``list_devices`` report (avfoundation, dshow), read from its log."""
    wanted = "video" if kind == "camera" else "audio"
    # Listing always "fails" (it opens nothing); the devices are in the log.
    with av.logging.Capture() as lines, contextlib.suppress(Exception):
        av.open(
            "" if format == "avfoundation" else "dummy",
            format=format,
            options={"list_devices": "true"},
        )
    section = ""
    devices: list[Device] = []
    for _level, _name, message in lines:
        text = message.strip()
        if "video devices" in text.lower():
            section = "video"
            continue
        if "audio devices" in text.lower():
            section = "audio"
            continue
        if format == "avfoundation":
            match = re.match(r"\[(\d+)\] (.+)", text)
            if match and section == wanted:
                device_id = match[1] if kind == "camera" else f":{match[1]}"
                devices.append(Device(device_id, match[2], kind, is_default=not devices))
        else:
            match = re.match(r'"(.+)"(?: \((video|audio)\))?$', text)
            if match and (match[2] or section) == wanted:
                device_id = f"{wanted}={match[1]}"
                devices.append(Device(device_id, match[1], kind, is_default=not devices))
    return devices


class CaptureDevices:
    def __init__(self, poll_seconds: float = 2.0, platform: str = sys.platform) -> None:
        self.platform = platform
        self.poll_seconds = poll_seconds
        self._listeners = Listeners()
        self._poller: asyncio.Task[None] | None = None
        if platform.startswith("linux"):
            configure_alsa()

    # --- listing --------------------------------------------------------------------------

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        found = self._list(kind)
        if kind == "microphone":  # real ones: they hear a room
            found = [dataclasses.replace(device, acoustic=True) for device in found]
        return found

    def _list(self, kind: DeviceKind) -> list[Device]:
        if self.platform.startswith("linux"):
            return _linux_cameras() if kind == "camera" else _linux_alsa(kind)
        if kind == "speaker":
            return []
        if self.platform == "darwin":
            return _reported_devices("avfoundation", kind)
        if self.platform == "win32":
            return _reported_devices("dshow", kind)
        return []

    def _input(self, kind: DeviceKind, device_id: str) -> tuple[str, str, dict[str, str]]:
        if self.platform.startswith("linux"):
            if kind == "camera":
                return device_id, "v4l2", dict(CAMERA_OPTIONS)
            return device_id, "alsa", dict(ALSA_OPTIONS)
        if self.platform == "darwin":
            return device_id, "avfoundation", dict(CAMERA_OPTIONS) if kind == "camera" else {}
        if self.platform == "win32":
            return device_id, "dshow", dict(CAMERA_OPTIONS) if kind == "camera" else {}
        raise DeviceError(f"This system ({self.platform}) has no {kind} support in PyAV.")

    # --- opening --------------------------------------------------------------------------

    async def _open(self, kind: DeviceKind, device_id: str) -> MediaStreamTrack:
        url, format, options = self._input(kind, device_id)
        try:
            try:
                container = await open_input(url, format, options)
            except ValueError:  # libav refused the options (av.error.ValueError)
                if not options:
                    raise
                container = await open_input(url, format, {})  # the device's own mode
        except FileNotFoundError:
            raise DeviceError(f"The {kind} {device_id!r} is not connected.") from None
        except PermissionError:
            raise DeviceError(f"Parley may not use the {kind} {device_id!r}.") from None
        except OSError as error:
            busy = "busy" in str(error).lower()
            raise DeviceError(
                f"The {kind} {device_id!r} is in use by another program."
                if busy
                else f"The {kind} {device_id!r} could not be opened ({error.strerror or error})."
            ) from None
        return CaptureTrack("video" if kind == "camera" else "audio", container)

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        return await self._open("camera", device_id)

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        return await self._open("microphone", device_id)

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        if not self.platform.startswith("linux"):
            raise DeviceError("Playing sound through PyAV works on Linux (ALSA) only.")
        try:
            container = await asyncio.to_thread(av.open, device_id, "w", format="alsa")
        except OSError as error:
            raise DeviceError(
                f"The speaker {device_id!r} could not be opened ({error.strerror or error})."
            ) from None
        assert isinstance(container, av.container.OutputContainer)
        return SpeakerOutput(container, sound)

    # --- hot-plug ---------------------------------------------------------------------------

    def watch(self, listener: Callable[[], None]) -> Unwatch:
        unwatch_listener = self._listeners.watch(listener)
        if self._poller is None:
            with contextlib.suppress(RuntimeError):  # no loop yet: a later watch starts it
                self._poller = asyncio.get_running_loop().create_task(self._poll())

        def unwatch() -> None:
            unwatch_listener()
            if not self._listeners and self._poller is not None:
                self._poller.cancel()
                self._poller = None

        return unwatch

    def _snapshot(self) -> tuple[list[Device], ...]:
        return tuple(self.list_devices(k) for k in ("camera", "microphone", "speaker"))

    async def _poll(self) -> None:
        seen = await asyncio.to_thread(self._snapshot)
        while True:
            await asyncio.sleep(self.poll_seconds)
            now = await asyncio.to_thread(self._snapshot)
            if now != seen:
                seen = now
                self._listeners.notify()
