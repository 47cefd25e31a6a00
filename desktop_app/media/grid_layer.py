"""A camera's grid layer: the same picture, smaller and at half the pace, published beside
the full one through the SFU for the others' small tiles.

aiortc cannot send simulcast, so the layer is a second track with an encoder of its
own, held to :data:`GRID_BITRATE`. What it saves receivers and costs senders is measured
in ``tests/perf/bench_group.py`` (docs/sdk.md).
"""

from __future__ import annotations

import fractions
import time

import av
from aiortc.mediastreams import MediaStreamTrack
from av.video.reformatter import VideoReformatter

#: The box the grid layer's picture fits in, and its pace.
GRID_WIDTH, GRID_HEIGHT, GRID_FPS = 320, 240, 15
#: Its sender's ceiling (bits per second; ``congestion.cap_bitrate``): a small tile needs
#: little, and uncapped aiortc's encoder spends on it nearly what the camera gets.
GRID_BITRATE = 150_000
#: A frame this much early (of the interval) still counts as on time: cameras jitter.
EARLY = 0.15


def grid_size(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """``width`` × ``height`` fitted in ``box`` with its shape kept, never enlarged, even
    (the encoder's chroma planes are half size)."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class GridLayerTrack(MediaStreamTrack):
    """Frames of ``source`` at most ``fps`` a second, fitted in ``width`` × ``height``.

    Frames are chosen by their timestamps (a camera's own pace, a few milliseconds of
    jitter forgiven), not by a timer. Scaled with a reformatter of its own on one thread
    (PyAV's default starts a thread pool per scaler)."""

    kind = "video"

    def __init__(
        self,
        source: MediaStreamTrack,
        width: int = GRID_WIDTH,
        height: int = GRID_HEIGHT,
        fps: int = GRID_FPS,
    ) -> None:
        super().__init__()
        self._source = source
        self._box = (width, height)
        self._interval = 1 / fps
        self._due: float | None = None
        self._scaler = VideoReformatter()

    async def recv(self) -> av.VideoFrame:
        while True:
            frame = await self._source.recv()
            assert isinstance(frame, av.VideoFrame)
            if self._on_time(_seconds(frame)):
                return self._scaled(frame)

    def stop(self) -> None:
        super().stop()
        self._source.stop()

    def _on_time(self, at: float) -> bool:
        """Whether the frame taken ``at`` is the next one to send: the pace holds over
        time (a frame a little late does not delay the next), yet no two are closer than
        :data:`EARLY` short of two intervals' worth of slack, and a pause restarts it."""
        slack = EARLY * self._interval
        if self._due is not None and at < self._due - slack:
            return False
        pace = self._due + self._interval if self._due is not None else at
        self._due = max(pace, at + self._interval - slack)
        return True

    def _scaled(self, frame: av.VideoFrame) -> av.VideoFrame:
        width, height = grid_size(frame.width, frame.height, self._box)
        if (width, height) == (frame.width, frame.height) and frame.format.name == "yuv420p":
            return frame
        scaled = self._scaler.reformat(
            frame, width=width, height=height, format="yuv420p", threads=1
        )
        scaled.pts = frame.pts
        scaled.time_base = frame.time_base or fractions.Fraction(1, 90000)
        return scaled


def _seconds(frame: av.VideoFrame) -> float:
    """When a frame was taken, by its timestamp (now, if it has none)."""
    if frame.pts is None or frame.time_base is None:
        return time.monotonic()
    return float(frame.pts * frame.time_base)
