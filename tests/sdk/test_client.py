"""VideoClient and Call against a real coordinator: the call verbs, ringing on both
sides, several devices, errors, token refresh and reconnection."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from desktop_app.protocol.events import CALL_EVENT_TYPES
from desktop_app.sdk import (
    CallEnded,
    CallingState,
    CallStateError,
    ClientOptions,
    ConnectionFailed,
    ConnectionState,
    NotFound,
    ReconnectPolicy,
    VideoClient,
)
from desktop_app.sdk.call_events import EVENT_HANDLERS
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import RunningCoordinator, unique


def test_every_protocol_event_has_a_handler() -> None:
    assert set(EVENT_HANDLERS) == set(CALL_EVENT_TYPES)


def incoming(client: VideoClient) -> list:  # type: ignore[type-arg]
    return [
        c
        for c in client.state.calls.value
        if not c.state.is_created_by_me and c.state.calling_state is CallingState.RINGING
    ]


async def test_ring_accept_and_the_caller_joins_by_itself(connect: ClientFactory) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    call = alice.call("default", unique())
    created = await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True, video=True
    )
    assert (
        created and call.state.calling_state is CallingState.RINGING and call.state.is_created_by_me
    )
    ringing = await eventually(lambda: incoming(bob), what="bob's incoming ring")
    assert ringing[0].cid == call.cid
    await ringing[0].join()  # accept + join
    assert ringing[0].state.calling_state is CallingState.JOINED
    await eventually(
        lambda: call.state.calling_state is CallingState.JOINED, what="alice auto-joins"
    )
    await eventually(lambda: len(call.state.participants) == 2, what="both participants")
    assert {p.user.id for p in call.state.participants} == {"alice", "bob"}
    assert (
        call.state.local_participant is not None and call.state.local_participant.user.id == "alice"
    )
    await call.leave()
    assert call.state.calling_state is CallingState.LEFT
    await eventually(
        lambda: [p.user.id for p in ringing[0].state.participants] == ["bob"], what="alice gone"
    )


async def test_every_callee_rejects_and_the_caller_leaves(connect: ClientFactory) -> None:
    alice, bob, cy = await connect("alice"), await connect("bob"), await connect("cy")
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": u} for u in ("alice", "bob", "cy")]}, ring=True
    )
    for callee in (bob, cy):
        ring = await eventually(lambda c=callee: incoming(c))
        await ring[0].leave(reject=True, reason="decline")
        assert ring[0].state.calling_state is CallingState.LEFT
    await eventually(
        lambda: call.state.calling_state is CallingState.LEFT, what="the caller gives up"
    )
    assert set(call.state.session.rejected_by) >= {"bob", "cy"}  # type: ignore[union-attr]


async def test_caller_cancel_stops_the_callee(connect: ClientFactory) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True
    )
    ring = await eventually(lambda: incoming(bob))
    await call.leave(reject=True)  # the caller's reject is a cancel
    await eventually(
        lambda: ring[0].state.calling_state is CallingState.IDLE, what="bob stops ringing"
    )
    assert call.state.session.rejected_by["alice"].reason == "cancel"  # type: ignore[union-attr]
    assert "bob" in ring[0].state.session.missed_by  # type: ignore[union-attr]


async def test_answering_on_one_device_stops_the_other(connect: ClientFactory) -> None:
    alice, phone, laptop = await connect("alice"), await connect("bob"), await connect("bob")
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True
    )
    on_phone = await eventually(lambda: incoming(phone))
    on_laptop = await eventually(lambda: incoming(laptop))
    await on_phone[0].join()
    await eventually(
        lambda: on_laptop[0].state.calling_state is CallingState.IDLE, what="the laptop stops"
    )
    assert on_phone[0].state.calling_state is CallingState.JOINED


async def test_busy_callee_rejects_by_itself(connect: ClientFactory) -> None:
    alice = await connect("alice")
    bob = await connect("bob", ClientOptions(reject_call_when_busy=True))
    first = bob.call("default", unique())
    await first.join(create=True)
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True
    )
    await eventually(
        lambda: call.state.session and "bob" in call.state.session.rejected_by, what="busy reject"
    )
    assert call.state.session.rejected_by["bob"].reason == "busy"  # type: ignore[union-attr]
    await eventually(
        lambda: call.state.calling_state is CallingState.LEFT, what="the caller gives up"
    )


async def test_verbs_update_the_state(connect: ClientFactory) -> None:
    alice = await connect("alice")
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}], "custom": {"a": 1}}
    )
    await call.update(custom={"a": 2}, settings_override={"limits": {"max_participants": 5}})
    assert call.state.custom == {"a": 2} and call.state.settings.limits.max_participants == 5  # type: ignore[union-attr]
    await call.update_call_members(
        update_members=[{"user_id": "cy", "role": "host"}], remove_members=["bob"]
    )
    assert {m.user_id for m in call.state.members} == {"alice", "cy"}
    page = await call.query_members(filter={"role": "host"})
    assert [m.user_id for m in page.members] == ["alice", "cy"]
    await call.send_event({"hello": True})
    await call.join()
    with pytest.raises(CallStateError):
        await call.join()
    await call.end_call()
    assert call.state.calling_state is CallingState.LEFT and call.state.ended_at is not None
    with pytest.raises(CallEnded) as ended:
        await call.join()
    assert "ended" in ended.value.message


async def test_errors_are_typed_sentences(
    connect: ClientFactory, coordinator: RunningCoordinator
) -> None:
    alice = await connect("alice")
    with pytest.raises(NotFound) as missing:
        await alice.call("default", unique()).get()
    assert missing.value.message.startswith("There is no call")
    unreachable = VideoClient({"id": "x"}, token="t", base_url="http://127.0.0.1:9")
    with pytest.raises(ConnectionFailed):
        await unreachable.connect()


async def test_expired_tokens_are_refreshed(
    connect: ClientFactory, coordinator: RunningCoordinator
) -> None:
    expired = jwt.encode(
        {"sub": "dee", "iat": 1, "exp": 2}, coordinator.config.secret, algorithm="HS256"
    )
    issued: list[str] = []

    async def provider() -> str:
        issued.append(coordinator.user_token("dee"))
        return issued[-1]

    client = await connect("dee", token=expired, token_provider=provider)
    assert issued, "the expired token was replaced on connect"
    client.connection.token = expired
    await client.call("default", unique()).get_or_create()
    assert len(issued) == 2, "and again for REST"


async def test_a_dropped_socket_reconnects_and_keeps_the_call(connect: ClientFactory) -> None:
    alice = await connect(
        "alice", ClientOptions(reconnect_policy=ReconnectPolicy(delays=(0.0, 0.1)))
    )
    bob = await connect("bob")
    call = alice.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    connection_id = alice.connection.connection_id
    states: list[ConnectionState] = []
    alice.state.connection_state.subscribe(states.append)
    await alice.connection._socket.close()  # the network drops
    await eventually(
        lambda: alice.state.connection_state.value is ConnectionState.CONNECTED and states,
        what="reconnect",
    )
    assert ConnectionState.RECONNECTING in states
    assert alice.connection.connection_id == connection_id, "resumed, not a new connection"
    bob_view = bob.call("default", call.id)
    await bob_view.get()
    assert [p.user.id for p in bob_view.state.participants] == ["alice"], "still in the call"
    await call.update(custom={"after": "reconnect"})
    await eventually(lambda: call.state.custom == {"after": "reconnect"})
    assert call.state.calling_state is CallingState.JOINED
    await asyncio.sleep(0)


async def test_recent_calls_people_and_notify(connect: ClientFactory) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    first = alice.call("default", unique())
    await first.get_or_create(data={"members": [{"user_id": "bob"}]})
    second = alice.call("default", unique())
    await second.get_or_create(data={"members": [{"user_id": "bob"}]}, notify=True)

    calls, _ = await bob.query_calls()
    assert [c.cid for c in calls[:2]] == [second.cid, first.cid], "newest first"
    assert calls[0] is bob.call(second.type, second.id), "the client's own Call objects"
    assert calls[0].state.call is not None and calls[0].state.members

    people, _ = await bob.query_users()
    assert {"alice", "bob"} <= {u.id for u in people}

    notified = await eventually(lambda: bob.state.notified_call.value, what="a notify")
    assert notified.cid == second.cid
    assert alice.state.notified_call.value is None, "not for our own notify"
