"""Group calls through Janus with real aiortc clients: a call of three goes through the
SFU, everyone receives everyone's sound and picture, people come and go, and a call of two
stays peer to peer."""

from __future__ import annotations

import asyncio

import numpy as np

from desktop_app.media.synthetic import dominant_frequency
from desktop_app.sdk.call import Call
from desktop_app.sdk.devices import SyntheticDevices
from tests.sdk.support import eventually
from tests.sfu.conftest import ClientFactory
from tests.support.coordinator import unique


async def _join(connect: ClientFactory, users: list[str], call_id: str, tone: int = 440) -> list[Call]:
    calls = []
    for index, user in enumerate(users):
        client = await connect(user, devices=SyntheticDevices(height=120, tone_hz=tone + 40 * index))
        call = client.call("default", call_id)
        await call.join(create=True)
        calls.append(call)
    return calls


def _others_received(call: Call) -> set[str]:
    """Whose picture and sound this call's participant receives."""
    return {
        p.user.id
        for p in call.state.participants
        if not p.is_local and p.video_track is not None and p.audio_track is not None
    }


async def _frames_from(call: Call, user: str) -> None:
    participant = next(p for p in call.state.participants if p.user.id == user)
    await asyncio.wait_for(participant.video_track.recv(), 5)
    await asyncio.wait_for(participant.audio_track.recv(), 5)


async def test_three_people_meet_through_the_sfu(connect: ClientFactory) -> None:
    users = ["alice", "bob", "carol"]
    calls = await _join(connect, users, unique())
    for call in calls:
        await eventually(
            lambda call=call: call.media_session.sfu is not None
            and _others_received(call) == set(users) - {call.state.local_participant.user.id},
            timeout=20,
            what=f"{call.state.own_user_id} receiving everyone through the SFU",
        )
        assert call.media_session.mesh is None
    for call in calls:
        for user in set(users) - {call.state.own_user_id}:
            await _frames_from(call, user)


async def test_two_people_stay_peer_to_peer(connect: ClientFactory) -> None:
    calls = await _join(connect, ["alice", "bob"], unique())
    for call in calls:
        await eventually(lambda call=call: len(_others_received(call)) == 1, timeout=10)
        assert call.media_session.mesh is not None and call.media_session.sfu is None


def _longest_gap_ms(sound: np.ndarray, rate: int, threshold: float = 300.0) -> float:
    """The longest stretch of silence in ``sound`` after it first got loud (10 ms steps)."""
    step = rate // 100
    blocks = len(sound) // step
    loud = [float(np.sqrt(np.mean(sound[i * step : (i + 1) * step] ** 2))) > threshold
            for i in range(blocks)]  # fmt: skip
    start = loud.index(True)
    longest = run = 0
    for is_loud in loud[start:]:
        run = 0 if is_loud else run + 1
        longest = max(longest, run)
    return longest * 10.0


async def test_a_third_person_moves_the_call_to_the_sfu_without_a_gap(
    connect: ClientFactory,
) -> None:
    call_id = unique()
    alices_devices = SyntheticDevices(height=120, tone_hz=440, keep_seconds=30.0)
    alice = (await connect("alice", devices=alices_devices)).call("default", call_id)
    await alice.join(create=True)
    bob = (await connect("bob", devices=SyntheticDevices(height=120, tone_hz=660))).call(
        "default", call_id
    )
    await bob.join()
    await eventually(lambda: len(_others_received(alice)) == 1, timeout=10, what="p2p media")
    assert alice.media_session.mesh is not None
    await asyncio.sleep(1.5)  # bob's tone plays steadily at alice's

    # Carol comes in with her microphone off: what alice hears is bob alone.
    carols = await connect("carol", devices=SyntheticDevices(height=120, tone_hz=880))
    await carols.microphone.disable()
    carol = carols.call("default", call_id)
    await carol.join()
    await eventually(
        lambda: alice.media_session.sfu is not None and bob.media_session.sfu is not None,
        timeout=20,
        what="alice and bob on the SFU",
    )
    assert alice.media_session.mesh is None and alice.media_session.next_leg is None
    await eventually(lambda: _others_received(alice) == {"bob", "carol"}, timeout=10)
    await asyncio.sleep(1.5)

    (speaker,) = [s for s in alices_devices.speakers if not s.closed]
    heard = speaker.heard(30.0)
    gap = _longest_gap_ms(heard, speaker.rate)
    assert gap < 100, f"bob's voice broke off for {gap:.0f} ms at the switch"
    assert abs(dominant_frequency(heard[-speaker.rate :], speaker.rate) - 660) < 15


async def _steady_tone(call: Call, devices: SyntheticDevices, seconds: float) -> np.ndarray:
    (speaker,) = [s for s in devices.speakers if not s.closed]
    await asyncio.sleep(seconds)
    return speaker.heard(seconds)


async def test_back_at_two_the_call_returns_to_peer_to_peer_without_a_gap(
    connect: ClientFactory,
) -> None:
    call_id = unique()
    alices_devices = SyntheticDevices(height=120, tone_hz=440, keep_seconds=30.0)
    alice = (await connect("alice", devices=alices_devices)).call("default", call_id)
    await alice.join(create=True)
    bob = (await connect("bob", devices=SyntheticDevices(height=120, tone_hz=660))).call(
        "default", call_id
    )
    await bob.join()
    carols = await connect("carol", devices=SyntheticDevices(height=120, tone_hz=880))
    await carols.microphone.disable()
    carol = carols.call("default", call_id)
    await carol.join()
    await eventually(
        lambda: alice.media_session.sfu is not None and _others_received(alice) == {"bob", "carol"},
        timeout=20,
        what="alice on the SFU",
    )
    await asyncio.sleep(1.0)
    (speaker,) = [s for s in alices_devices.speakers if not s.closed]
    before = speaker.frames_played

    await carol.leave()
    # The coordinator waits a while (2 s in these tests) before the call goes back.
    await eventually(
        lambda: alice.media_session.mesh is not None and bob.media_session.mesh is not None,
        timeout=20,
        what="alice and bob peer to peer again",
    )
    assert alice.media_session.next_leg is None
    await eventually(lambda: _others_received(alice) == {"bob"}, timeout=10)
    await asyncio.sleep(1.5)
    heard = speaker.heard((speaker.frames_played - before) * 0.02)
    gap = _longest_gap_ms(heard, speaker.rate)
    assert gap < 100, f"bob's voice broke off for {gap:.0f} ms going back to peer to peer"
    assert abs(dominant_frequency(heard[-speaker.rate :], speaker.rate) - 660) < 15
