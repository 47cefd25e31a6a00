"""docs/sdk.md's example, run as written (with the coordinator this test starts)."""

from __future__ import annotations

from desktop_app.sdk import CallingState, VideoClient
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.support import eventually
from tests.support.coordinator import RunningCoordinator


async def test_the_documented_example(coordinator: RunningCoordinator) -> None:
    token = coordinator.user_token("alice")
    bob = VideoClient(
        user={"id": "bob", "name": "Bob"},
        token=coordinator.user_token("bob"),
        base_url=coordinator.base_url,
        devices=SyntheticDevices(tone_hz=660),
    )
    await bob.connect()

    client = VideoClient(
        user={"id": "alice", "name": "Alice"},
        token=token,
        base_url=coordinator.base_url,
        devices=SyntheticDevices(),
    )
    await client.connect()
    call = client.call("default", "standup")
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True, video=True
    )
    incoming = await eventually(lambda: bob.state.incoming_call.value, what="bob is rung")
    assert incoming.state.ring.caller.name == "Alice" and incoming.state.ring.video is True
    await incoming.join()
    await eventually(lambda: call.state.calling_state is CallingState.JOINED, what="alice joins")
    for side, other in ((call, "bob"), (incoming, "alice")):
        participant = await eventually(
            lambda s=side, o=other: next(
                (
                    p
                    for p in s.state.participants
                    if p.user.id == o and p.video_track and p.audio_track
                ),
                None,
            ),
            timeout=10,
            what=f"{other}'s media",
        )
        assert await participant.video_track.recv() is not None
    await call.leave()
    assert call.state.calling_state is CallingState.LEFT
    await client.disconnect()
    await bob.disconnect()
