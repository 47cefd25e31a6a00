"""Video frames to pictures a tile can paint, on a worker thread, newest frame first.

A frame is converted once, at the size it is shown: ``reformat(w, h, "bgra")`` straight
into a ``QImage`` (``Format_RGB32``) over the converted frame's own buffer — no copy, no
PIL — kept alive with the image (DESIGN.md §6). Painting is then 1:1.

Why a thread: in a call of eight, conversions were a tenth of the GUI thread's work, and
that thread (which also runs aiortc's RTP stack under qasync) was the app's limit. The
scaler releases the GIL, so on a worker it runs beside the GUI thread. One worker serves
every tile; each tile has at most one conversion in flight, and a frame that arrives
meanwhile waits in a slot a newer frame replaces — a slow conversion skips frames, it
never queues them.

Each tile converts with a reformatter of its own, on one thread (``threads=1``): PyAV's
default makes every scaler start a thread pool of its own, and ``frame.reformat`` makes a
new scaler for every frame — 2.1 ms at 640×480 here against 0.2 ms — and keeps it on the
frame, where another thread converting the same frame would share it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import av
from av.video.reformatter import VideoReformatter
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

#: The conversions' worker (started at the first conversion, joined at exit).
WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tile-convert")


@dataclass(frozen=True)
class Picture:
    image: QImage
    #: The converted frame whose buffer ``image`` shows: alive as long as the image.
    keep: av.VideoFrame
    #: The frame it was made from.
    source: av.VideoFrame


def fit(width: int, height: int, box: QSize) -> QSize:
    """The largest size of ``width``:``height`` inside ``box`` (even numbers for yuv)."""
    if width <= 0 or height <= 0 or box.width() <= 0 or box.height() <= 0:
        return QSize(0, 0)
    scale = min(box.width() / width, box.height() / height)
    return QSize(max(2, int(width * scale) & ~1), max(2, int(height * scale) & ~1))


def frame_to_picture(
    frame: av.VideoFrame, size: QSize, ratio: float, reformatter: VideoReformatter
) -> Picture:
    """``frame`` at ``size`` device pixels as an RGB32 image of device pixel ``ratio``.
    ``reformatter`` keeps its scaler between frames of the same size and format."""
    converted = reformatter.reformat(
        frame, width=size.width(), height=size.height(), format="bgra", threads=1
    )
    plane = converted.planes[0]
    image = QImage(
        memoryview(plane), size.width(), size.height(), plane.line_size, QImage.Format.Format_RGB32
    )
    image.setDevicePixelRatio(ratio)
    return Picture(image, converted, frame)


class LatestFrameConverter:
    """One tile's conversions. ``box`` tells the tile's size in device pixels and its
    device pixel ratio when a conversion starts; ``done`` gets each picture on the event
    loop's thread. Without a running event loop (a tile rendered by a benchmark) a frame
    is converted at once, on the caller's thread."""

    def __init__(
        self, box: Callable[[], tuple[QSize, float]], done: Callable[[Picture], None]
    ) -> None:
        # Weakly: the tile owns its converter, and a cycle would leave a deleted tile's
        # widget to whenever the garbage collector runs (inside some Qt callback).
        self._box = weakref.WeakMethod(box)
        self._done = weakref.WeakMethod(done)
        self._reformatter = VideoReformatter()  # only ever used by one thread at a time
        self._waiting: av.VideoFrame | None = None
        #: The last frame converted (to convert again at a new size).
        self._last: av.VideoFrame | None = None
        self._busy = False
        #: Bumped by ``forget``: a conversion started before it is not delivered.
        self._generation = 0

    def convert(self, frame: av.VideoFrame) -> None:
        self._waiting = frame
        if not self._busy:
            self._next()

    def keep(self, frame: av.VideoFrame) -> None:
        """The newest frame, converted only on ``again`` (a tile out of sight)."""
        self._waiting = frame

    def again(self) -> None:
        """Convert once more at the tile's size now (it was resized): the frame waiting,
        else the last one converted — a still picture too."""
        if self._waiting is None:
            self._waiting = self._last
        if not self._busy:
            self._next()

    def forget(self) -> None:
        """Nothing converted so far, or in flight now, is delivered (camera off)."""
        self._waiting = self._last = None
        self._generation += 1

    def _next(self) -> None:
        frame = self._waiting
        if frame is None:
            return
        box_of, done = self._box(), self._done()
        if box_of is None or done is None:
            return  # the tile is gone
        box, ratio = box_of()
        size = fit(frame.width, frame.height, box)
        if size.isEmpty():
            return  # not laid out yet: the frame waits for ``again``
        self._waiting = None
        self._last = frame
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            done(frame_to_picture(frame, size, ratio, self._reformatter))
            return
        self._busy = True
        generation = self._generation
        job = WORKER.submit(frame_to_picture, frame, size, ratio, self._reformatter)

        def finished(job: Future[Picture]) -> None:
            loop.call_soon_threadsafe(self._finished, job, generation)

        job.add_done_callback(finished)

    def _finished(self, job: Future[Picture], generation: int) -> None:
        self._busy = False
        try:
            picture = job.result()
        except Exception:  # a frame the scaler refuses is skipped, the next one tried
            log.exception("a video frame could not be converted")
        else:
            done = self._done()
            if generation == self._generation and done is not None:
                done(picture)
        self._next()
