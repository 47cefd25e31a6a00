"""The coordinator dies (``SIGKILL``) in the middle of a call and comes back.

The coordinator runs as users run it, in its own process, so it can be killed for real;
the two clients are SDK clients with synthetic devices in this process.

* Back on the same data: the media never stops, both clients are ``joined`` again within
  3 s of the restart with the same participant sessions, a mute made during the outage
  reaches the other side, and nobody is dropped when the grace period runs out.
* Back with an empty database: the clients try to rejoin, and end ``reconnecting-failed``
  with their devices released — never a call that silently empties.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.coordinator.auth import create_user_token
from desktop_app.media.synthetic import read_frame_counter
from desktop_app.sdk import CallingState, ConnectionState, VideoClient
from desktop_app.sdk.call import Call
from desktop_app.sdk.call_state import Participant
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.support import eventually
from tests.support.coordinator import SECRET, unique
from tests.support.restartable import Coordinator

#: Seconds: short, so that the tests see what happens after it, yet longer than the
#: clients' 2 s between reconnect attempts (a restart between two attempts must fit).
GRACE = 5.0


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[Coordinator]:
    served = Coordinator(tmp_path, SECRET, GRACE)
    served.start(tmp_path / "first.sqlite3")
    yield served
    served.stop()


async def _client(coordinator: Coordinator, user_id: str, tone: float) -> VideoClient:
    client = VideoClient(
        {"id": user_id, "name": user_id.title()},
        token=create_user_token(SECRET, user_id),
        base_url=coordinator.base_url,
        devices=SyntheticDevices(tone_hz=tone),
    )
    await client.connect()
    return client


def _remote(call: Call, user_id: str) -> Participant | None:
    return next((p for p in call.state.participants if p.user.id == user_id), None)


async def _in_a_call(coordinator: Coordinator) -> tuple[VideoClient, VideoClient, Call, Call]:
    alice = await _client(coordinator, "alice", 440)
    bob = await _client(coordinator, "bob", 660)
    call = alice.call("default", unique())
    await call.join(create=True, data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]})
    bobs = bob.call("default", call.id)
    await bobs.join()
    for own, other in ((call, "bob"), (bobs, "alice")):
        await eventually(
            lambda c=own, o=other: (p := _remote(c, o)) is not None and p.video_track,
            timeout=10,
            what=f"{other}'s video",
        )
    return alice, bob, call, bobs


async def _frame(call: Call, user_id: str) -> int:
    participant = _remote(call, user_id)
    assert participant is not None and participant.video_track is not None
    return read_frame_counter(await asyncio.wait_for(participant.video_track.recv(), 5))


async def _run_in_thread(work: object) -> float:
    return await asyncio.get_running_loop().run_in_executor(None, work)  # type: ignore[arg-type]


async def test_a_restart_on_the_same_data_keeps_the_call(
    coordinator: Coordinator, tmp_path: Path
) -> None:
    alice, bob, call, bobs = await _in_a_call(coordinator)
    sessions = {p.session_id for p in call.state.participants}
    assert len(sessions) == 2
    try:
        before = await _frame(bobs, "alice")
        coordinator.kill()
        await eventually(
            lambda: alice.state.connection_state.value is not ConnectionState.CONNECTED,
            what="alice notices the coordinator is gone",
        )
        await bobs.microphone.disable()  # a mute during the outage
        during = await _frame(bobs, "alice")
        assert during > before, "media flows while the coordinator is down"
        await asyncio.sleep(1.0)

        restarted = await _run_in_thread(lambda: coordinator.start(tmp_path / "first.sqlite3"))
        for client, own in ((alice, call), (bob, bobs)):
            await eventually(
                lambda c=client, o=own: (
                    c.state.connection_state.value is ConnectionState.CONNECTED
                    and o.state.calling_state is CallingState.JOINED
                    and {p.session_id for p in o.state.participants} == sessions
                ),
                timeout=GRACE - (time.monotonic() - restarted),
                what=f"{client.user_id} joined again with the same participants",
            )
        await eventually(
            lambda: (p := _remote(call, "bob")) is not None and p.published.get("audio") is False,
            what="alice sees the mute bob made during the outage",
        )
        assert await _frame(bobs, "alice") > during, "media never stopped"

        await asyncio.sleep(GRACE + 1.0)  # past the grace period of the old connections
        for own in (call, bobs):
            assert own.state.calling_state is CallingState.JOINED
            assert {p.session_id for p in own.state.participants} == sessions, "nobody dropped"
        assert await _frame(call, "bob") > 0, "bob's video still reaches alice"
        await call.update(custom={"after": "restart"})
        await eventually(lambda: bobs.state.custom == {"after": "restart"}, what="events flow")
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_a_restart_with_an_empty_database_ends_in_reconnecting_failed(
    coordinator: Coordinator, tmp_path: Path
) -> None:
    alice, bob, call, bobs = await _in_a_call(coordinator)
    try:
        coordinator.kill()
        await _run_in_thread(lambda: coordinator.start(tmp_path / "empty.sqlite3"))
        for client, own in ((alice, call), (bob, bobs)):
            await eventually(
                lambda o=own: o.state.calling_state is CallingState.RECONNECTING_FAILED,
                timeout=15,
                what=f"{client.user_id}'s call gives up visibly",
            )
            assert not own.camera.enabled and not own.microphone.enabled, "devices released"
            assert own.mesh is None and not own.speaker.playing
    finally:
        await alice.disconnect()
        await bob.disconnect()
