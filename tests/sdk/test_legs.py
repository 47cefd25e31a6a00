"""``sdk/legs.py``: when a new leg carries the call — sound from everyone who sends it,
pictures from everyone whose picture we want — and waiting for it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from desktop_app.protocol.users import UserResponse
from desktop_app.sdk.call_state import Participant
from desktop_app.sdk.legs import Leg

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _participant(session_id: str, **published: bool) -> Participant:
    user = UserResponse(id=session_id, created_at=NOW, updated_at=NOW)
    return Participant(session_id, user, "user", NOW, published=dict(published))


def test_a_leg_carries_the_call_when_everyone_who_sends_has_arrived() -> None:
    me = _participant("me", audio=True, video=True)
    me.is_local = True
    bob = _participant("bob", audio=True, video=True)
    carol = _participant("carol", audio=False, video=True)  # muted
    dan = _participant("dan")  # nothing said yet: his sound is expected
    everyone = [me, bob, carol, dan]
    leg = Leg("sfu", "room")

    assert not leg.carries(everyone, None)
    leg.flowing |= {("bob", "audio"), ("dan", "audio")}
    assert not leg.carries(everyone, None), "pictures missing"
    assert leg.carries(everyone, visible=set()), "no picture wanted: sound is enough"
    leg.flowing |= {("bob", "video")}
    assert not leg.carries(everyone, None), "carol's picture is still missing"
    assert leg.carries(everyone, visible={"bob"}), "carol's tile is off screen"
    leg.flowing |= {("carol", "video")}
    assert leg.carries(everyone, None), "a muted microphone is not waited for, nor our own"


async def test_waiting_for_a_leg_ends_on_arrival_failure_or_time() -> None:
    leg = Leg("p2p", None)
    arrived = False

    async def arrive() -> None:
        nonlocal arrived
        await asyncio.sleep(0.05)
        arrived = True
        leg.arrived.set()

    task = asyncio.ensure_future(arrive())
    assert await leg.until_carries(lambda: arrived, 5.0)
    await task

    started = time.monotonic()
    assert not await leg.until_carries(lambda: False, 0.2)
    assert 0.15 < time.monotonic() - started < 2.0

    async def fail() -> None:
        await asyncio.sleep(0.05)
        leg.failed = True
        leg.arrived.set()

    task = asyncio.ensure_future(fail())
    started = time.monotonic()
    assert not await leg.until_carries(lambda: False, 5.0)
    assert time.monotonic() - started < 2.0, "a failed leg is not waited for"
    await task
