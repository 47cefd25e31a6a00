"""Named one-shot timers on the event loop (participant grace periods, call duration limits).

Deadlines themselves live in the database; these timers are only the wake-up calls, and
they are re-armed from stored state when the coordinator starts. They wait on the
coordinator's clock (:mod:`desktop_app.coordinator.clock`), so a test's clock moves them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from .clock import Clock, SystemClock

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def schedule(
        self, key: str, delay_seconds: float, action: Callable[[], Awaitable[None]]
    ) -> None:
        """Run ``action`` after ``delay_seconds``; replaces any timer with the same key."""
        self.cancel(key)
        deadline = self.clock() + timedelta(seconds=max(0.0, delay_seconds))

        async def run() -> None:
            try:
                await self.clock.sleep_until(deadline)
                self._tasks.pop(key, None)
                await action()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer %s failed", key)

        self._tasks[key] = asyncio.get_running_loop().create_task(run(), name=f"timer:{key}")

    def cancel(self, key: str) -> None:
        task = self._tasks.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def pending(self, key: str) -> bool:
        return key in self._tasks

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
