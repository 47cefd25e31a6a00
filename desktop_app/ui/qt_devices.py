"""The SDK's ``DeviceBackend`` on Qt Multimedia: the desktop app's real devices.

* Lists and hot-plug from ``QMediaDevices`` (its ``*Changed`` signals).
* A camera is ``QCamera`` + ``QVideoSink``; each ``QVideoFrame`` becomes an
  ``av.VideoFrame`` (RGBA) for aiortc — only the newest frame is kept.
* A microphone is ``QAudioSource`` in pull mode (48 kHz mono 16-bit), read every 10 ms
  into 20 ms ``av.AudioFrame`` s.
* A speaker is ``QAudioSink`` in push mode fed by the pulled mix.

Qt objects live on the GUI thread — where qasync runs the SDK's event loop — so opening
happens there; nothing here blocks for long. Without an audio server or camera Qt lists
nothing, and the lobby offers the synthetic devices instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QIODevice, QObject, QTimer
from PySide6.QtGui import QImage
from PySide6.QtMultimedia import (
    QAudioDevice,
    QAudioFormat,
    QAudioSink,
    QAudioSource,
    QCamera,
    QCameraDevice,
    QMediaCaptureSession,
    QMediaDevices,
    QVideoFrame,
    QVideoSink,
)

from desktop_app.media.queued_track import QueuedTrack
from desktop_app.sdk.devices import AudioOutput, Device, DeviceKind, Listeners
from desktop_app.sdk.errors import DeviceError

log = logging.getLogger(__name__)

#: A wait that lets Qt process its events (see ``event_loop``: ``sleep(0)`` may not).
QT_TURN = 0.001

RATE = 48_000
FRAME_SAMPLES = 960
VIDEO_CLOCK = 90_000


def _id(device: QCameraDevice | QAudioDevice) -> str:
    return bytes(device.id().data()).decode(errors="replace")


def _audio_format(channels: int) -> QAudioFormat:
    audio_format = QAudioFormat()
    audio_format.setSampleRate(RATE)
    audio_format.setChannelCount(channels)
    audio_format.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    return audio_format


class _PushedTrack(QueuedTrack):
    """Frames pushed in from Qt signals; stopping it closes the Qt device."""

    def __init__(self, kind: str, keep: int) -> None:
        super().__init__(kind, keep)
        self.on_stop: Callable[[], None] | None = None

    def stop(self) -> None:
        super().stop()
        if self.on_stop is not None:
            on_stop, self.on_stop = self.on_stop, None
            on_stop()


def video_frame_from_qt(
    frame: QVideoFrame, started: float, to_yuv: VideoReformatter
) -> av.VideoFrame | None:
    """``frame`` as the yuv420p frame encoders take, converted by ``to_yuv``, a reformatter
    kept for the camera (an encoder converting each frame builds a scaler per frame)."""
    image = frame.toImage()
    if image.isNull():
        return None
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    rows = data.reshape(height, image.bytesPerLine())[:, : width * 4].reshape(height, width, 4)
    rgba = av.VideoFrame.from_ndarray(np.ascontiguousarray(rows), format="rgba")
    converted = to_yuv.reformat(rgba, format="yuv420p", threads=1)
    converted.pts = int((time.monotonic() - started) * VIDEO_CLOCK)
    converted.time_base = fractions.Fraction(1, VIDEO_CLOCK)
    return converted


class QtDevices(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._media = QMediaDevices(self)
        self._listeners = Listeners()
        for signal in (
            self._media.videoInputsChanged,
            self._media.audioInputsChanged,
            self._media.audioOutputsChanged,
        ):
            signal.connect(self._changed)
        self._keep: set[Any] = set()  # Qt objects alive while their device is open

    def _changed(self) -> None:
        self._listeners.notify()

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._listeners.watch(listener)

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        found: list[QCameraDevice] | list[QAudioDevice]
        if kind == "camera":
            found = QMediaDevices.videoInputs()
        elif kind == "microphone":
            found = QMediaDevices.audioInputs()
        else:
            found = QMediaDevices.audioOutputs()
        acoustic = kind == "microphone"
        return [
            Device(_id(d), d.description(), kind, is_default=d.isDefault(), acoustic=acoustic)
            for d in found
        ]

    def _find_camera(self, device_id: str) -> QCameraDevice:
        for device in QMediaDevices.videoInputs():
            if _id(device) == device_id:
                return device
        raise DeviceError("That camera is not connected any more.")

    def _find_audio(self, device_id: str, inputs: bool) -> QAudioDevice:
        for device in QMediaDevices.audioInputs() if inputs else QMediaDevices.audioOutputs():
            if _id(device) == device_id:
                return device
        kind = "microphone" if inputs else "speaker"
        raise DeviceError(f"That {kind} is not connected any more.")

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        device = self._find_camera(device_id)
        camera = QCamera(device)
        session = QMediaCaptureSession()
        sink = QVideoSink()
        session.setCamera(camera)
        session.setVideoSink(sink)
        track = _PushedTrack("video", keep=1)
        started = time.monotonic()
        to_yuv = VideoReformatter()
        problem: list[str] = []

        def on_frame(frame: QVideoFrame) -> None:
            converted = video_frame_from_qt(frame, started, to_yuv)
            if converted is not None:
                track.push(converted)

        def on_error(_error: QCamera.Error, text: str) -> None:
            problem.append(text)
            track.end()

        sink.videoFrameChanged.connect(on_frame)
        camera.errorOccurred.connect(on_error)
        held = (camera, session, sink)
        self._keep.add(held)

        def close() -> None:
            camera.stop()
            self._keep.discard(held)

        track.on_stop = close
        camera.start()
        await asyncio.sleep(QT_TURN)  # a timer, not sleep(0): Qt delivers a start error
        if problem or camera.error() != QCamera.Error.NoError:
            track.stop()
            reason = problem[0] if problem else camera.errorString()
            raise DeviceError(f"The camera “{device.description()}” could not start: {reason}")
        return track

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        device = self._find_audio(device_id, inputs=True)
        source = QAudioSource(device, _audio_format(1))
        io = source.start()
        if io is None:
            raise DeviceError(f"The microphone “{device.description()}” could not start.")
        track = _PushedTrack("audio", keep=25)
        pending = bytearray()
        sent = 0

        def read() -> None:
            nonlocal sent
            pending.extend(bytes(io.readAll().data()))
            while len(pending) >= FRAME_SAMPLES * 2:
                chunk = np.frombuffer(bytes(pending[: FRAME_SAMPLES * 2]), dtype=np.int16)
                del pending[: FRAME_SAMPLES * 2]
                frame = av.AudioFrame.from_ndarray(
                    chunk.reshape(1, -1), format="s16", layout="mono"
                )
                frame.sample_rate = RATE
                frame.pts = sent
                frame.time_base = fractions.Fraction(1, RATE)
                sent += FRAME_SAMPLES
                track.push(frame)

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(read)
        timer.start()
        held = (source, timer, io)
        self._keep.add(held)

        def close() -> None:
            timer.stop()
            source.stop()
            self._keep.discard(held)

        track.on_stop = close
        return track

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        device = self._find_audio(device_id, inputs=False)
        return QtSpeaker(device, sound)


class QtSpeaker:
    """Pulls the mix and writes it to a ``QAudioSink`` (push mode)."""

    def __init__(self, device: QAudioDevice, sound: MediaStreamTrack) -> None:
        self._sink = QAudioSink(device, _audio_format(2))
        self._sink.setBufferSize(RATE * 2 * 2 // 5)  # 200 ms
        io: QIODevice | None = self._sink.start()
        if io is None:
            raise DeviceError(f"The speaker “{device.description()}” could not start.")
        self._io = io
        self._sound = sound
        self._task = asyncio.get_running_loop().create_task(self._play())

    async def _play(self) -> None:
        # The sink takes 48 kHz stereo 16-bit; anything else is converted first (a mono
        # frame written as is would play at twice its pitch).
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=RATE)
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await self._sound.recv()
                assert isinstance(frame, av.AudioFrame)
                for converted in resampler.resample(frame):
                    data = converted.to_ndarray().tobytes()
                    if self._sink.bytesFree() >= len(data):
                        self._io.write(data)

    def latency_ms(self) -> float:
        """What the sink holds, not yet played (PulseAudio's own latency comes on top:
        the echo canceller finds that part itself)."""
        queued = max(0, self._sink.bufferSize() - self._sink.bytesFree())
        return 1000 * queued / (RATE * 2 * 2)

    def close(self) -> None:
        self._task.cancel()
        self._sink.stop()


class SwitchableDevices:
    """The app's devices, or the synthetic test devices when the user asks for them (a
    machine without a camera can still try a call). Switching tells every watcher, so the
    device managers move to the other side's default devices."""

    def __init__(self, real: Any, test: Any, use_test: bool = False) -> None:
        self.real, self.test = real, test
        self.use_test = use_test
        self._listeners = Listeners()
        for backend in (real, test):
            backend.watch(self._changed)

    @property
    def current(self) -> Any:
        return self.test if self.use_test else self.real

    def switch(self, use_test: bool) -> None:
        if use_test != self.use_test:
            self.use_test = use_test
            self._changed()

    def _changed(self) -> None:
        self._listeners.notify()

    def watch(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._listeners.watch(listener)

    def list_devices(self, kind: DeviceKind) -> list[Device]:
        return list(self.current.list_devices(kind))

    async def open_camera(self, device_id: str) -> MediaStreamTrack:
        return await self.current.open_camera(device_id)  # type: ignore[no-any-return]

    async def open_microphone(self, device_id: str) -> MediaStreamTrack:
        return await self.current.open_microphone(device_id)  # type: ignore[no-any-return]

    async def open_speaker(self, device_id: str, sound: MediaStreamTrack) -> AudioOutput:
        return await self.current.open_speaker(device_id, sound)  # type: ignore[no-any-return]
