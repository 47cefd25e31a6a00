"""When and how often a call switches legs (see :mod:`.media_session`): the policy of the
make-before-break switch, apart from how a leg is built.

The coordinator says in the call's session how its media travels; whenever that differs
from the active leg, one switch runs (never two at once: a change that comes during a
switch is seen when the switch looks again). An attempt that fails is tried again after
a pause that grows; after :data:`SWITCH_ATTEMPTS` the media counts as failed, the call
rejoins, and the join answer says afresh how to connect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .legs import Target

log = logging.getLogger(__name__)

#: Tries of one switch, and the pause after the first failure (doubling).
SWITCH_ATTEMPTS = 3
SWITCH_RETRY_SECONDS = 1.0


class LegSwitch:
    def __init__(
        self,
        desired: Callable[[], Target | None],
        active: Callable[[], Target | None],
        attempt: Callable[[str], Awaitable[bool]],
        failed: Callable[[], None],
    ) -> None:
        #: What the call's session says (None: nothing, the call is over or not known).
        self._desired = desired
        #: What the active leg reaches (None: no media).
        self._active = active
        #: One attempt at moving to a mode: whether the new leg became the active one.
        self._attempt = attempt
        self._failed = failed
        self._task: asyncio.Task[None] | None = None

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def follow(self) -> None:
        """Start a switch if the active leg is not what the call wants and none runs."""
        if self.busy or not self._wanted():
            return
        self._task = asyncio.ensure_future(self._run())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _wanted(self) -> Target | None:
        """Where to go, when it is not where the active leg is."""
        desired, active = self._desired(), self._active()
        return desired if desired is not None and active is not None and desired != active else None

    async def _run(self) -> None:
        failures = 0
        while (desired := self._wanted()) is not None:
            try:
                switched = await self._attempt(desired[0])
            except Exception as error:
                log.info("switching the media failed: %s", error)
                switched = False
            if not self._current():
                return  # cancelled (the media closed) though the cancel was swallowed
            if switched:
                failures = 0
                continue
            failures += 1
            if failures >= SWITCH_ATTEMPTS:
                log.info("media: the call's new path never came up")
                self._failed()
                return
            await asyncio.sleep(SWITCH_RETRY_SECONDS * failures)
            if not self._current():
                return

    def _current(self) -> bool:
        """Whether this run is still the switch (a close cancels it and may start
        another; a cancel that something swallowed must not leave two running)."""
        return self._task is not None and self._task is asyncio.current_task()
