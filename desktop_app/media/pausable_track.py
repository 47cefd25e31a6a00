"""A video track that can stop giving frames, so that its sender encodes and sends nothing.

aiortc's sender pulls frames (``recv``) and encodes each one; it has no pause. While this
track is paused its ``recv`` waits without reading its source either — a camera branch
(:mod:`.fanout`) keeps only its newest frame, so nothing piles up and the first frame after
:meth:`PausableTrack.resume` is fresh; a grid layer's downscaling stops too. The sender
sees a long gap between two frames (its RTP timestamps follow the frames' own), as after
a stall of the camera.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class PausableTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self._running = asyncio.Event()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def recv(self) -> Any:  # what its source gives (aiortc: Frame | Packet)
        await self._running.wait()
        if self.readyState != "live":
            raise MediaStreamError
        return await self.source.recv()

    def stop(self) -> None:
        super().stop()
        self.source.stop()
        self._running.set()  # a paused reader ends too
