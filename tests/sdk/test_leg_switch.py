"""``sdk/leg_switch.py``: the switch's policy — one at a time, tried again after a growing
pause, failed after three tries, and following what the call wants meanwhile. No sockets:
an attempt is a coroutine that says whether the new leg became the active one."""

from __future__ import annotations

import asyncio

import pytest

from desktop_app.sdk import leg_switch
from desktop_app.sdk.leg_switch import LegSwitch
from desktop_app.sdk.legs import Target

SFU: Target = ("sfu", "room-1")
P2P: Target = ("p2p", None)


class Call:
    """What the switch reads and does, recorded."""

    def __init__(self, active: Target | None, desired: Target | None) -> None:
        self.active = active
        self.desired = desired
        self.attempts: list[str] = []
        self.failures = 0
        #: How each next attempt ends: True (switched), False, or an exception.
        self.outcomes: list[bool | Exception] = []
        self.attempting = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    def switch(self) -> LegSwitch:
        return LegSwitch(lambda: self.desired, lambda: self.active, self.attempt, self.failed)

    async def attempt(self, mode: str) -> bool:
        self.attempts.append(mode)
        target = self.desired  # what the attempt fetched: where the call was then
        self.attempting.set()
        await self.release.wait()
        outcome = self.outcomes.pop(0) if self.outcomes else True
        if isinstance(outcome, Exception):
            raise outcome
        if outcome:
            self.active = target
        return outcome

    def failed(self) -> None:
        self.failures += 1


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leg_switch, "SWITCH_RETRY_SECONDS", 0.01)


async def settle(switch: LegSwitch) -> None:
    for _ in range(200):
        if not switch.busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the switch never ended")


async def test_nothing_happens_where_the_call_already_is_or_is_not_known() -> None:
    for active, desired in ((SFU, SFU), (P2P, None), (None, SFU)):
        call = Call(active, desired)
        switch = call.switch()
        switch.follow()
        assert not switch.busy
        await asyncio.sleep(0)
        assert call.attempts == []


async def test_a_switch_that_succeeds_is_one_attempt() -> None:
    call = Call(P2P, SFU)
    switch = call.switch()
    switch.follow()
    await settle(switch)
    assert call.attempts == ["sfu"] and call.active == SFU and call.failures == 0


async def test_a_failed_attempt_is_tried_again_and_three_failures_fail_the_media() -> None:
    call = Call(P2P, SFU)
    call.outcomes = [False, RuntimeError("Janus said no"), True]
    switch = call.switch()
    switch.follow()
    await settle(switch)
    assert call.attempts == ["sfu"] * 3 and call.active == SFU and call.failures == 0

    call = Call(P2P, SFU)
    call.outcomes = [False, False, False, True]
    switch = call.switch()
    switch.follow()
    await settle(switch)
    assert call.attempts == ["sfu"] * leg_switch.SWITCH_ATTEMPTS
    assert call.failures == 1 and call.active == P2P, "failed once, then left to the rejoin"


async def test_one_switch_at_a_time_and_it_follows_what_the_call_wants_meanwhile() -> None:
    call = Call(P2P, SFU)
    call.release.clear()
    switch = call.switch()
    switch.follow()
    await call.attempting.wait()
    call.desired = ("sfu", "room-2")  # the room moved while we were on our way
    switch.follow()
    switch.follow()
    assert call.attempts == ["sfu"], "no second switch beside the first"
    call.release.set()
    await settle(switch)
    assert call.attempts == ["sfu", "sfu"] and call.active == ("sfu", "room-2")


async def test_a_cancelled_switch_stops_and_a_new_one_can_start() -> None:
    call = Call(P2P, SFU)
    call.release.clear()
    switch = call.switch()
    switch.follow()
    await call.attempting.wait()
    switch.cancel()
    assert not switch.busy
    await asyncio.sleep(0.05)
    assert call.active == P2P and call.failures == 0
    call.release.set()
    switch.follow()
    await settle(switch)
    assert call.active == SFU


async def test_a_switch_whose_cancel_was_swallowed_neither_fails_nor_runs_beside_the_next() -> None:
    """aiortc and websockets code under an attempt can swallow a cancel: the run that
    was cancelled must stop by itself when it comes back, not count a failure (a rejoin
    nobody asked for) nor go on beside the switch started after it."""
    call = Call(P2P, SFU)
    call.release.clear()

    later = asyncio.Event()

    async def stubborn(mode: str) -> bool:
        """The first attempt swallows its cancel and fails; the next ones succeed once
        ``later`` is set."""
        first = not call.attempts
        call.attempts.append(mode)
        call.attempting.set()
        if not first:
            await later.wait()
            call.active = call.desired
            return True
        try:
            await call.release.wait()
        except asyncio.CancelledError:
            await call.release.wait()
        return False

    switch = LegSwitch(lambda: call.desired, lambda: call.active, stubborn, call.failed)
    switch.follow()
    await call.attempting.wait()
    old = switch._task
    switch.cancel()
    call.attempting.clear()
    switch.follow()  # the media connects again and follows the call
    await call.attempting.wait()
    call.release.set()  # the cancelled attempt comes back, failed, while the next runs
    assert old is not None
    await asyncio.sleep(0.1)
    assert old.done(), "the cancelled run stopped by itself"
    later.set()
    await settle(switch)
    assert call.failures == 0, "the cancelled run counted nothing"
    assert call.attempts == ["sfu", "sfu"] and call.active == SFU, "one run went on, once"
    assert not switch.busy
