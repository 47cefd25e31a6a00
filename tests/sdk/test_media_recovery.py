"""A call whose media breaks rejoins (``reconnecting``), and gives up after its policy
(``reconnecting-failed``); H.264 when both sides prefer it; the lobby's devices carried into
the call; the remote sound reaches our speaker."""

from __future__ import annotations

import asyncio

import pytest

from desktop_app.media.synthetic import dominant_frequency, read_frame_counter
from desktop_app.sdk import CallEnded, CallingState, ClientOptions, ReconnectPolicy
from desktop_app.sdk.call import Call
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import RunningCoordinator, unique

MEMBERS = {"members": [{"user_id": "alice"}, {"user_id": "bob"}]}


def _seen(call: Call, user_id: str):  # type: ignore[no-untyped-def]
    return next(
        (p for p in call.state.participants if p.user.id == user_id and p.video_track), None
    )


async def _pair(
    connect: ClientFactory,
    alice_options: ClientOptions | None = None,
    bob_options: ClientOptions | None = None,
) -> tuple[Call, Call]:
    alice = await connect("alice", alice_options, devices=SyntheticDevices(tone_hz=440))
    bob = await connect("bob", bob_options, devices=SyntheticDevices(tone_hz=660))
    call = alice.call("default", unique())
    await call.join(create=True, data=MEMBERS)
    bobs = bob.call("default", call.id)
    await bobs.join()
    await eventually(lambda: _seen(call, "bob") and _seen(bobs, "alice"), timeout=10, what="media")
    return call, bobs


async def test_a_broken_peer_connection_makes_the_call_rejoin(connect: ClientFactory) -> None:
    call, bobs = await _pair(connect)
    old_session = call.state.local_session_id
    states: list[CallingState] = []
    call.state.calling_state_.subscribe(states.append)
    assert call.mesh is not None
    (peer,) = call.mesh.peers.values()
    await peer.close()  # the transport dies under the call (not a leave)

    await eventually(lambda: CallingState.RECONNECTING in states, what="reconnecting")
    await eventually(
        lambda: (
            call.state.calling_state is CallingState.JOINED
            and call.state.local_session_id != old_session
        ),
        timeout=10,
        what="rejoined as a new session",
    )
    assert states[:2] == [CallingState.RECONNECTING, CallingState.JOINED]
    # bob drops the old session and connects to the new one: frames flow both ways again
    await eventually(
        lambda: (p := _seen(bobs, "alice")) and p.session_id == call.state.local_session_id,
        timeout=10,
        what="bob sees alice's new session",
    )
    assert [p.session_id for p in bobs.state.participants if p.user.id == "alice"] == [
        call.state.local_session_id
    ], "the old session is gone"
    numbers = [
        read_frame_counter(await asyncio.wait_for(_seen(bobs, "alice").video_track.recv(), 5))
        for _ in range(3)
    ]
    assert numbers == sorted(numbers)
    bob_seen = await eventually(lambda: _seen(call, "bob"), timeout=10, what="alice sees bob")
    await asyncio.wait_for(bob_seen.video_track.recv(), 5)
    assert bob_seen.connection_state == "connected"


async def test_rejoining_gives_up_when_the_coordinator_is_gone(
    connect: ClientFactory, coordinator: RunningCoordinator
) -> None:
    quick = ClientOptions(
        media_reconnect_policy=ReconnectPolicy(delays=(0.0, 0.1, 0.1), max_attempts=3),
        reconnect_policy=ReconnectPolicy(delays=(0.1,), then=0.2, max_attempts=3),
    )
    call, _ = await _pair(connect, alice_options=quick)
    await coordinator.stop()
    assert call.mesh is not None
    (peer,) = call.mesh.peers.values()
    await peer.close()
    await eventually(
        lambda: call.state.calling_state is CallingState.RECONNECTING_FAILED,
        timeout=15,
        what="reconnecting-failed",
    )
    assert call.mesh is None and not call.camera.enabled and not call.microphone.enabled
    assert not call.speaker.playing


async def test_h264_only_when_both_sides_prefer_it(connect: ClientFactory) -> None:
    h264 = ClientOptions(prefer_h264=True)
    call, bobs = await _pair(connect, h264, h264)
    assert call.mesh is not None and bobs.mesh is not None
    (remote,) = call.mesh.peers
    assert call.mesh.video_codec(remote) == "video/H264"
    (back,) = bobs.mesh.peers
    assert bobs.mesh.video_codec(back) == "video/H264"
    seen = _seen(bobs, "alice")
    numbers = [
        read_frame_counter(await asyncio.wait_for(seen.video_track.recv(), 5)) for _ in range(3)
    ]
    assert numbers == sorted(numbers) and numbers[-1] > numbers[0], "H.264 frames carry the counter"
    await call.leave()
    await bobs.leave()


async def test_vp8_when_only_one_side_prefers_h264(connect: ClientFactory) -> None:
    call, bobs = await _pair(connect, ClientOptions(prefer_h264=True), None)
    assert call.mesh is not None and bobs.mesh is not None
    (remote,) = call.mesh.peers
    assert call.mesh.video_codec(remote) == "video/VP8"
    (back,) = bobs.mesh.peers
    assert bobs.mesh.video_codec(back) == "video/VP8"


async def test_the_call_uses_the_clients_devices_and_choices(connect: ClientFactory) -> None:
    alice = await connect("alice", devices=SyntheticDevices())
    bob = await connect("bob", devices=SyntheticDevices())
    await alice.camera.enable()  # alice checks her camera in the lobby
    lobby_source = alice.camera.track.source
    await bob.camera.disable()  # bob joins with his camera off
    call = alice.call("default", unique())
    await call.join(create=True, data=MEMBERS)
    bobs = bob.call("default", call.id)
    await bobs.join()

    assert call.camera is alice.camera and call.microphone is alice.microphone
    assert call.camera.enabled and call.camera.track.source is lobby_source, "no second open"
    assert not bobs.camera.enabled, "bob's choice beats the call type's camera_default_on"
    assert bobs.microphone.enabled, "the call type's mic default applies"
    await eventually(
        lambda: (
            (p := next((p for p in call.state.participants if p.user.id == "bob"), None))
            and p.published.get("video") is False
        ),
        what="alice sees bob's camera off",
    )


async def test_the_remote_sound_reaches_our_speaker(connect: ClientFactory) -> None:
    alice_devices = SyntheticDevices(tone_hz=440)
    alice = await connect("alice", devices=alice_devices)
    bob = await connect("bob", devices=SyntheticDevices(tone_hz=660))
    call = alice.call("default", unique())
    await call.join(create=True, data=MEMBERS)
    await bob.call("default", call.id).join()
    assert call.speaker.playing
    output = alice_devices.speakers[-1]

    def hears_bob() -> bool:
        sound = output.heard(0.5)
        return (
            len(sound) > 12000
            and abs(sound).max() > 1000
            and abs(dominant_frequency(sound, output.rate) - 660) < 15
        )

    await eventually(hears_bob, timeout=10, what="alice's speaker plays bob's 660 Hz")
    await call.speaker.disable()
    await asyncio.sleep(0.7)
    assert not output.heard(0.4).any(), "speaker off: silence"
    await call.leave()
    assert output.closed and not call.speaker.playing


async def test_a_failed_join_gives_the_lobby_its_camera_back(connect: ClientFactory) -> None:
    alice = await connect("alice", devices=SyntheticDevices())
    call = alice.call("default", unique())
    await call.get_or_create(data=MEMBERS)
    await call.end_call()
    await alice.camera.enable()
    preview = alice.camera.track.source
    with pytest.raises(CallEnded):
        await call.join()
    assert alice.camera.enabled and alice.camera.track.source is preview, "preview goes on"
    assert not alice.microphone.enabled, "what the join opened closes again"
    assert call.state.calling_state is CallingState.LEFT
