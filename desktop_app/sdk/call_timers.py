"""The call machine's timers (its ring deadline, its next rejoin attempt) on the event
loop: a timer that fires goes back to the machine as an input, like any event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .call_commands import ArmTimer, Command, DisarmTimer
from .call_inputs import Timer


class CallTimers:
    def __init__(self, fired: Callable[[Timer], None]) -> None:
        self._fired = fired
        self._handles: dict[Timer, asyncio.TimerHandle] = {}

    def carry_out(self, command: Command) -> bool:
        """Arm or disarm for a timer command (True); any other command is not ours."""
        match command:
            case ArmTimer(timer, seconds):
                self.disarm(timer)
                loop = asyncio.get_running_loop()
                self._handles[timer] = loop.call_later(seconds, self._fired, timer)
                return True
            case DisarmTimer(timer):
                self.disarm(timer)
                return True
        return False

    def disarm(self, timer: Timer) -> None:
        handle = self._handles.pop(timer, None)
        if handle is not None:
            handle.cancel()

    def disarm_all(self) -> None:
        for timer in list(self._handles):
            self.disarm(timer)
