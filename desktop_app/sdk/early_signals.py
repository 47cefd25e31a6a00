"""Signals that outran the mesh they are for.

A peer may offer the moment our join is committed, before its answer has reached us, or
as the call returns to peer to peer, before we have heard that it does; and it offers once.
So a signal for a mesh that does not exist yet is kept, and given to the mesh when it is
built — unless it is older than :data:`EARLY_SIGNAL_SECONDS` (a stale offer answered would
start a connection nobody waits for).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from desktop_app.protocol.events import CallSignalEvent

#: Signals kept for a mesh that does not exist yet, at most this long (seconds).
EARLY_SIGNAL_SECONDS = 10.0


class EarlySignals:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: list[tuple[float, CallSignalEvent]] = []

    def keep(self, event: CallSignalEvent) -> None:
        self._kept = self._fresh()
        self._kept.append((self._clock(), event))

    def take(self) -> list[CallSignalEvent]:
        """The signals still fresh, in the order they came; none are kept after."""
        fresh, self._kept = self._fresh(), []
        return [event for _, event in fresh]

    def clear(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)

    def _fresh(self) -> list[tuple[float, CallSignalEvent]]:
        now = self._clock()
        return [(at, event) for at, event in self._kept if now - at < EARLY_SIGNAL_SECONDS]
