"""A track whose frames are pushed in and pulled out: from a device thread (through the
loop), a Qt signal, or a fan-out. It keeps at most ``keep`` frames — the oldest go first —
so a consumer that falls behind sees recent frames, never a growing backlog."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack


class QueuedTrack(MediaStreamTrack):
    def __init__(self, kind: str, keep: int) -> None:
        super().__init__()
        self.kind = kind
        self._frames: collections.deque[Any] = collections.deque(maxlen=keep)
        self._arrived = asyncio.Event()
        self._ended = False

    def push(self, frame: Any) -> None:
        self._frames.append(frame)
        self._arrived.set()

    def end(self) -> None:
        """No more frames: ``recv`` raises once the queued ones are taken."""
        self._ended = True
        self._arrived.set()

    def stop(self) -> None:
        super().stop()
        self._arrived.set()  # a reader waiting for a frame learns that none will come

    def _before_waiting(self) -> None:
        """Called when ``recv`` is about to wait (a fan-out starts reading its source)."""

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._frames:
                return self._frames.popleft()
            if self._ended:
                self.stop()
                raise MediaStreamError
            self._before_waiting()
            self._arrived.clear()
            await self._arrived.wait()
