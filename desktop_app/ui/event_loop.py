"""The app's event loop: qasync's (asyncio on Qt's loop), with asyncio's own ready queue.

qasync runs every ``call_soon`` through a Qt timer of its own — started, fired, killed —
which costs ~28 µs a callback here against asyncio's ~3 µs. aiortc makes several
callbacks for every packet it sends or receives (a future resolved, a task woken), so in
a call of eight that tax alone took a large share of the GUI thread, the thread that
limits the app. Here ``call_soon`` appends to a queue, and one Qt timer runs the queue —
callbacks queued meanwhile too — for at most ``TURN_SECONDS``; then Qt's own events
(painting, sockets, timers) get their turn. So ``await asyncio.sleep(0)`` no longer
promises a pass through Qt's events: code that needs one waits on a timer
(``asyncio.sleep`` of a moment), which goes through Qt.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import time
from collections.abc import Callable
from typing import Any

import qasync

#: How long one turn runs callbacks before Qt's own events get their turn.
TURN_SECONDS = 0.002


class QtEventLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync has no type hints
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._soon: collections.deque[asyncio.Handle] = collections.deque()
        self._turn_scheduled = False

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context=context)
        self._soon.append(handle)
        if not self._turn_scheduled:
            self._turn_scheduled = True
            self._add_callback(asyncio.Handle(self._run_turn, (), self), 0)
        return handle

    def _run_turn(self) -> None:
        self._turn_scheduled = False
        deadline = time.monotonic() + TURN_SECONDS
        try:
            while self._soon:
                handle = self._soon.popleft()
                if not handle.cancelled():
                    handle._run()
                if time.monotonic() > deadline:
                    break
        finally:
            if self._soon and not self._turn_scheduled:  # left by an exception, or queued
                self._turn_scheduled = True
                self._add_callback(asyncio.Handle(self._run_turn, (), self), 0)
