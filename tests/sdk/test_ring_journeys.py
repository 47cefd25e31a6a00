"""Ringing as people live it, against a real coordinator with real media.

* Alice rings Bob and Cy: Alice's client never shows the call as ringing *her*; Bob
  accepts and Alice joins by herself; Cy accepts later and all three see each other.
* Alice rings Bob and Cy, both decline for their own reasons: Alice sees each answer with
  its reason, and leaves when the last one is in.
* Bob rings, in a call Carol created, with audio only: Alice's incoming ring names Bob
  (not the creator) and says audio.
"""

from __future__ import annotations

import asyncio

from desktop_app.sdk import CallingState, VideoClient
from desktop_app.sdk.call import Call
from desktop_app.sdk.call_state import CalleeAnswer, RingDirection
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import unique

TRIO = {"members": [{"user_id": u} for u in ("alice", "bob", "cy")]}


def _incoming(client: VideoClient, call: Call) -> Call | None:
    ringing = client.state.incoming_call.value
    return ringing if ringing is not None and ringing.cid == call.cid else None


async def test_ring_two_one_accepts_the_other_later_and_all_see_each_other(
    connect: ClientFactory,
) -> None:
    alice, bob, cy = [
        await connect(u, devices=SyntheticDevices(height=120)) for u in ("alice", "bob", "cy")
    ]
    rung_me: list[object] = []
    alice.state.incoming_call.subscribe(lambda c: c is not None and rung_me.append(c))
    seen_states: list[CallingState] = []

    call = alice.call("default", unique())
    call.state.calling_state_.subscribe(seen_states.append)
    await call.get_or_create(data=TRIO, ring=True)
    assert call.state.calling_state is CallingState.RINGING and not call.is_ringing_me
    bobs = await eventually(lambda: _incoming(bob, call), what="bob is rung")
    cys = await eventually(lambda: _incoming(cy, call), what="cy is rung")
    await bobs.join()
    await eventually(lambda: call.state.calling_state is CallingState.JOINED, what="alice joins")
    assert cys.state.calling_state is CallingState.RINGING, "cy still rings"
    await asyncio.sleep(1.0)
    await cys.join()

    for own in (call, bobs, cys):
        others = {"alice", "bob", "cy"} - {own.context.user_id}
        await eventually(
            lambda c=own, o=others: (
                {p.user.id for p in c.state.participants if p.video_track is not None} == o
            ),
            timeout=15,
            what=f"{own.context.user_id} sees {others}",
        )
    assert not rung_me, "the caller's client never showed its own ring as incoming"
    assert CallingState.RINGING in seen_states and not call.is_ringing_me
    ring = call.state.ring
    assert ring is not None and ring.direction is RingDirection.OUTGOING
    assert ring.answers == {"bob": CalleeAnswer("accepted"), "cy": CalleeAnswer("accepted")}
    for own in (call, bobs, cys):
        await own.leave()


async def test_each_reject_reaches_the_caller_with_its_reason(connect: ClientFactory) -> None:
    alice, bob, cy = await connect("alice"), await connect("bob"), await connect("cy")
    call = alice.call("default", unique())
    await call.get_or_create(data=TRIO, ring=True)
    bobs = await eventually(lambda: _incoming(bob, call), what="bob is rung")
    cys = await eventually(lambda: _incoming(cy, call), what="cy is rung")
    await bobs.reject("busy")
    await eventually(
        lambda: (
            (r := call.state.ring) is not None
            and r.answers.get("bob") == CalleeAnswer("rejected", "busy")
        ),
        what="alice sees bob is busy",
    )
    assert call.state.calling_state is CallingState.RINGING, "cy is still being rung"
    await cys.reject("decline")
    await eventually(lambda: call.state.calling_state is CallingState.LEFT, what="alice stops")
    ring = call.state.ring
    assert ring is not None and not ring.active
    assert ring.answers == {
        "bob": CalleeAnswer("rejected", "busy"),
        "cy": CalleeAnswer("rejected", "decline"),
    }
    assert bob.state.incoming_call.value is None and cy.state.incoming_call.value is None


async def test_the_incoming_ring_names_the_member_who_rang_and_its_video(
    connect: ClientFactory,
) -> None:
    carol, bob, alice = await connect("carol"), await connect("bob"), await connect("alice")
    members = {"members": [{"user_id": u} for u in ("alice", "bob", "carol")]}
    created = carol.call("default", unique())
    await created.get_or_create(data=members, video=True)
    bobs = bob.call("default", created.id)
    await bobs.get()
    await bobs.ring(["alice"], video=False)
    ringing = await eventually(lambda: _incoming(alice, created), what="alice is rung")
    ring = ringing.state.ring
    assert ring is not None and ring.direction is RingDirection.INCOMING
    assert ring.caller is not None and ring.caller.id == "bob", "not the creator, carol"
    assert ring.video is False, "the ring's own flag (the call has video on)"
    assert ringing.state.call is not None and ringing.state.call.video is True
    await ringing.reject()
    await eventually(lambda: alice.state.incoming_call.value is None, what="the ring is over")
