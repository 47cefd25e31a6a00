"""Running the SDK's coroutines from Qt slots: errors become sentences, and a spinner shows
only when something takes longer than 300 ms (a fast answer should not flicker)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from .sentences import sentence

log = logging.getLogger(__name__)
T = TypeVar("T")

SPINNER_DELAY_MS = 300


class Runner(QObject):
    """One per view: ``busy(bool)`` drives its spinner, ``failed(str)`` its error line."""

    busy = Signal(bool)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: set[asyncio.Task[Any]] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SPINNER_DELAY_MS)
        self._timer.timeout.connect(lambda: self.busy.emit(True))

    @property
    def running(self) -> bool:
        return bool(self._running)

    def run(
        self,
        work: Coroutine[Any, Any, T],
        on_done: Callable[[T], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._running.add(task)
        if not self._timer.isActive() and len(self._running) == 1:
            self._timer.start()

        def finished(done: asyncio.Task[T]) -> None:
            self._running.discard(done)
            if not self._running:
                self._timer.stop()
                self.busy.emit(False)
            if done.cancelled():
                return
            error = done.exception()
            if error is not None:
                text = sentence(error)
                (on_error or self.failed.emit)(text)
            elif on_done is not None:
                on_done(done.result())

        task.add_done_callback(finished)
        return task
