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
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import qasync

log = logging.getLogger(__name__)

#: How long one turn runs callbacks before Qt's own events get their turn.
TURN_SECONDS = 0.002


class QtEventLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync has no type hints
    """Callbacks run only while the loop runs (as asyncio's do): what is queued while it
    stands still — between the runs of one test, say — waits for the next run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._soon: collections.deque[asyncio.Handle] = collections.deque()
        self._turn_scheduled = False
        self._thread = threading.get_ident()
        self._current_handle: asyncio.Handle | None = None  # asyncio's, for debug mode

    def call_soon(
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context=context)
        if threading.get_ident() == self._thread:
            self._enqueue(handle)
        else:  # a Qt signal delivered on another thread: a Qt timer cannot start there
            self.call_soon_threadsafe(self._enqueue, handle)
        return handle

    def run_forever(self) -> Any:
        if self._soon and not self._turn_scheduled:
            self._schedule_turn()
        return super().run_forever()

    def close(self) -> None:
        self._soon.clear()
        super().close()

    def _enqueue(self, handle: asyncio.Handle) -> None:
        self._soon.append(handle)
        if not self._turn_scheduled and self.is_running():
            self._schedule_turn()

    def _schedule_turn(self) -> None:
        self._turn_scheduled = True
        self._add_callback(asyncio.Handle(self._run_turn, (), self), 0)

    def _run_turn(self) -> None:
        self._turn_scheduled = False
        timed = self.get_debug()
        deadline = time.monotonic() + TURN_SECONDS
        try:
            while self._soon and self.is_running():
                handle = self._soon.popleft()
                if handle.cancelled():
                    continue
                if timed:
                    self._run_timed(handle)
                else:
                    handle._run()
                if time.monotonic() > deadline:
                    break
        finally:
            if self._soon and self.is_running() and not self._turn_scheduled:
                self._schedule_turn()

    def _run_timed(self, handle: asyncio.Handle) -> None:
        """Debug mode: each callback timed on its own (the turn is qasync's callback)."""
        self._current_handle = handle
        started = time.monotonic()
        try:
            handle._run()
        finally:
            self._current_handle = None
        took = time.monotonic() - started
        if took >= self.slow_callback_duration:
            log.warning("Executing %s took %.3f seconds", handle, took)
