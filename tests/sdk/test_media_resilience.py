"""Media survives a dropped event socket; rejecting, cancelling and timing out with devices
on leave both sides right and nothing open."""

from __future__ import annotations

import asyncio

from desktop_app.media.synthetic import read_frame_counter
from desktop_app.sdk import CallingState, ClientOptions, ConnectionState, ReconnectPolicy
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import unique


async def test_a_killed_websocket_keeps_the_media_flowing(connect: ClientFactory) -> None:
    fast = ClientOptions(reconnect_policy=ReconnectPolicy(delays=(0.2, 0.2, 0.5)))
    alice = await connect("alice", fast, devices=SyntheticDevices())
    bob = await connect("bob", devices=SyntheticDevices())
    call = alice.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    bobs = bob.call("default", call.id)
    await bobs.join()
    seen = await eventually(
        lambda: next(
            (p for p in bobs.state.participants if p.user.id == "alice" and p.video_track), None
        ),
        timeout=10,
    )
    before = read_frame_counter(await asyncio.wait_for(seen.video_track.recv(), 5))

    await alice.connection._socket.close()  # the event socket dies; the peers do not
    during = read_frame_counter(await asyncio.wait_for(seen.video_track.recv(), 5))
    assert during > before, "frames keep coming while the socket is down"
    await eventually(
        lambda: alice.state.connection_state.value is ConnectionState.CONNECTED, what="reconnected"
    )
    after = read_frame_counter(await asyncio.wait_for(seen.video_track.recv(), 5))
    assert after > during
    assert call.state.calling_state is CallingState.JOINED
    await call.update(custom={"still": "here"})
    await eventually(lambda: bobs.state.custom == {"still": "here"}, what="events flow again")


async def test_reject_cancel_and_timeout_with_devices_on(connect: ClientFactory) -> None:
    alice = await connect("alice", devices=SyntheticDevices())
    bob = await connect("bob", devices=SyntheticDevices())

    async def ring() -> tuple:  # type: ignore[type-arg]
        call = alice.call("default", unique())
        await call.get_or_create(
            data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True
        )
        incoming = await eventually(
            lambda c=call: (
                bob.call(c.type, c.id)
                if bob.call(c.type, c.id).state.calling_state is CallingState.RINGING
                else None
            )
        )
        return call, incoming

    call, incoming = await ring()  # bob declines
    await incoming.leave(reject=True, reason="decline")
    await eventually(lambda: call.state.calling_state is CallingState.LEFT, what="caller gives up")
    assert incoming.state.calling_state is CallingState.LEFT
    assert call.mesh is None and incoming.mesh is None and not call.camera.enabled

    call, incoming = await ring()  # alice cancels
    await call.leave(reject=True, reason="cancel")
    await eventually(
        lambda: incoming.state.calling_state is CallingState.IDLE, what="callee stops ringing"
    )
    assert call.state.calling_state is CallingState.LEFT

    call, incoming = await ring()  # bob's device times out
    await incoming.reject("timeout")
    await eventually(
        lambda: call.state.calling_state is CallingState.LEFT, what="caller gives up after the miss"
    )
    assert "bob" in (call.state.session.missed_by if call.state.session else {})
    assert not incoming.camera.enabled and not incoming.microphone.enabled


async def test_a_call_ended_by_someone_else_releases_our_devices(connect: ClientFactory) -> None:
    alice = await connect("alice", devices=SyntheticDevices())
    bob = await connect("bob", devices=SyntheticDevices())
    call = alice.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    bobs = bob.call("default", call.id)
    await bobs.join()
    await eventually(
        lambda: bobs.mesh is not None and bobs.mesh.peers, timeout=10, what="connected"
    )
    assert bobs.camera.enabled
    await call.end_call()
    await eventually(
        lambda: bobs.state.calling_state is CallingState.LEFT, what="bob hears the end"
    )
    await eventually(
        lambda: bobs.mesh is None and not bobs.camera.enabled and not bobs.microphone.enabled,
        what="released",
    )
    assert call.mesh is None and not call.camera.enabled
