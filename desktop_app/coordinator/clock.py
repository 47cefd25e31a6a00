"""The coordinator's time: what time it is, and waiting until a moment.

Every rule with a deadline (ring timeouts, grace periods, duration limits) reads the
clock it was given and sleeps on the same clock, so a test can hand in a clock it moves
by hand and see a 15-second ring time out in a millisecond. The running coordinator uses
:class:`SystemClock`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from .store.types import utcnow


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now (UTC)."""
        ...

    async def sleep_until(self, deadline: datetime) -> None:
        """Return once ``deadline`` has come (at once when it has)."""
        ...


class SystemClock:
    def __call__(self) -> datetime:
        return utcnow()

    async def sleep_until(self, deadline: datetime) -> None:
        await asyncio.sleep(max(0.0, (deadline - utcnow()).total_seconds()))
