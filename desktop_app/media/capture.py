"""Real devices through PyAV's libavdevice: cameras and microphones as aiortc tracks, and a
speaker that plays a track.

Device reads and writes block (a camera hands out a frame every 33 ms, ALSA waits for
room), so each device gets a thread of its own and talks to the event loop only through
``call_soon_threadsafe``; the loop never waits on a device. A reader keeps at most a few
frames: a consumer that falls behind sees the newest picture, not a backlog.

PyAV's wheel bundles its own libasound, which looks for its configuration where the wheel
was built; on Debian it lives in ``/usr/share/alsa`` (with ``libasound2-plugins`` for
PulseAudio/PipeWire devices), so :func:`configure_alsa` points ``ALSA_CONFIG_PATH`` there
unless the environment already says otherwise, and ``ALSA_PLUGIN_DIR`` at the system's
plugins (found when PulseAudio's ALSA plugins were installed: without it no device opens).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Literal

import av
import av.container
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import VideoReformatter

from .queued_track import QueuedTrack

log = logging.getLogger(__name__)

AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 960  # 20 ms, what Opus sends
VIDEO_CLOCK = 90_000
DEBIAN_ALSA_CONFIG = Path("/usr/share/alsa/alsa.conf")


def configure_alsa() -> None:
    if "ALSA_CONFIG_PATH" not in os.environ and DEBIAN_ALSA_CONFIG.exists():
        os.environ["ALSA_CONFIG_PATH"] = str(DEBIAN_ALSA_CONFIG)
    # The configuration names plugins (PulseAudio's, with libasound2-plugins); the wheel's
    # libasound looks for them under its build prefix, fails, and then opens no device at
    # all ("Unknown PCM"), so point it at the system's plugin directory.
    if "ALSA_PLUGIN_DIR" not in os.environ:
        found = sorted(Path("/usr/lib").glob("*/alsa-lib"))
        if found:
            os.environ["ALSA_PLUGIN_DIR"] = str(found[0])


async def open_input(url: str, format: str, options: dict[str, str]) -> av.container.InputContainer:
    """Open a device without blocking the loop (opening a camera takes a few hundred ms)."""
    container = await asyncio.to_thread(av.open, url, format=format, options=options)
    assert isinstance(container, av.container.InputContainer)
    return container


class CaptureTrack(QueuedTrack):
    """The frames of one opened input device, read by a thread of its own."""

    def __init__(
        self,
        kind: Literal["audio", "video"],
        container: av.container.InputContainer,
        max_queued: int = 3,
    ) -> None:
        super().__init__(kind, keep=max_queued if kind == "video" else 25)
        self._container = container
        self._owner_loop = asyncio.get_running_loop()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name=f"capture-{kind}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        start = time.monotonic()
        samples = 0
        resampler = av.AudioResampler(
            format="s16", layout="mono", rate=AUDIO_RATE, frame_size=AUDIO_FRAME_SAMPLES
        )
        to_yuv = VideoReformatter()  # keeps its scaler (frame.reformat builds one per frame)
        try:
            stream = (
                self._container.streams.video[0]
                if self.kind == "video"
                else self._container.streams.audio[0]
            )
            for decoded in self._container.decode(stream):
                if self._stopping.is_set():
                    break
                if isinstance(decoded, av.VideoFrame):
                    frame = to_yuv.reformat(decoded, format="yuv420p", threads=1)
                    frame.pts = int((time.monotonic() - start) * VIDEO_CLOCK)
                    frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
                    self._owner_loop.call_soon_threadsafe(self.push, frame)
                elif isinstance(decoded, av.AudioFrame):
                    for chunk in resampler.resample(decoded):
                        chunk.pts = samples
                        chunk.time_base = fractions.Fraction(1, AUDIO_RATE)
                        samples += chunk.samples
                        self._owner_loop.call_soon_threadsafe(self.push, chunk)
        except Exception as error:  # unplugged, or the device broke: the track ends
            if not self._stopping.is_set():
                log.warning("capture of %s ended: %s", self.kind, error)
        finally:
            with contextlib.suppress(Exception):
                self._container.close()
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                self._owner_loop.call_soon_threadsafe(self.end)

    def stop(self) -> None:
        self._stopping.set()
        super().stop()


class SpeakerOutput:
    """Plays ``sound`` (a pulled audio track) on an output device, written by a thread."""

    def __init__(self, container: av.container.OutputContainer, sound: MediaStreamTrack) -> None:
        self._container = container
        self._stream: Any = container.add_stream("pcm_s16le", rate=AUDIO_RATE, layout="stereo")
        self._sound = sound
        self._pending: collections.deque[av.AudioFrame] = collections.deque(maxlen=10)
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._pump = asyncio.get_running_loop().create_task(self._pull())
        self._thread = threading.Thread(target=self._write, name="speaker", daemon=True)
        self._thread.start()

    async def _pull(self) -> None:
        with contextlib.suppress(MediaStreamError):
            while not self._closed.is_set():
                frame = await self._sound.recv()
                assert isinstance(frame, av.AudioFrame)
                self._pending.append(frame)
                self._wake.set()

    def _write(self) -> None:
        try:
            while not self._closed.is_set():
                self._wake.wait(0.1)
                self._wake.clear()
                while self._pending:
                    for packet in self._stream.encode(self._pending.popleft()):
                        self._container.mux(packet)
        except Exception as error:
            log.warning("speaker output ended: %s", error)
        finally:
            with contextlib.suppress(Exception):
                self._container.close()

    def latency_ms(self) -> float:
        """The frames waiting for the writer thread (ALSA's own buffer, which libavdevice
        does not report, comes on top: the echo canceller finds that part itself)."""
        return sum(1000 * frame.samples / frame.sample_rate for frame in list(self._pending))

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._pump.cancel()
