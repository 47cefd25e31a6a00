"""A clock the test moves by hand: the coordinator's timers (ring timeouts, grace periods)
fire when the test says that much time has passed, in milliseconds of real time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from desktop_app.coordinator.store.types import utcnow


class ManualClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()
        self._waiting: list[tuple[datetime, asyncio.Future[None]]] = []

    def __call__(self) -> datetime:
        return self.now

    async def sleep_until(self, deadline: datetime) -> None:
        if deadline <= self.now:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((deadline, future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time on and let every timer that is now due run."""
        self.now += timedelta(seconds=seconds)
        due = [(d, f) for d, f in self._waiting if d <= self.now]
        self._waiting = [(d, f) for d, f in self._waiting if d > self.now]
        for _, future in sorted(due, key=lambda item: item[0]):
            if not future.done():
                future.set_result(None)
        for _ in range(20):  # the woken timers' work runs on this loop
            await asyncio.sleep(0)
