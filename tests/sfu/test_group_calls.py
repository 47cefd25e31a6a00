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
from tests.sfu.conftest import BotFactory, ClientFactory
from tests.sfu.support import frames_from, receiving
from tests.support.coordinator import unique


async def _join(connect: ClientFactory, users: list[str], call_id: str, tone: int = 440) -> list[Call]:
    calls = []
    for index, user in enumerate(users):
        client = await connect(user, devices=SyntheticDevices(height=120, tone_hz=tone + 40 * index))
        call = client.call("default", call_id)
        await call.join(create=True)
        calls.append(call)
    return calls


async def test_three_people_meet_through_the_sfu(connect: ClientFactory) -> None:
    users = ["alice", "bob", "carol"]
    calls = await _join(connect, users, unique())
    for call in calls:
        await eventually(
            lambda call=call: call.media_session.sfu is not None
            and receiving(call) == set(users) - {call.state.local_participant.user.id},
            timeout=20,
            what=f"{call.state.own_user_id} receiving everyone through the SFU",
        )
        assert call.media_session.mesh is None
    for call in calls:
        for user in set(users) - {call.state.own_user_id}:
            await frames_from(call, user)

    # Connection quality: our one upload to the server is on our own tile, not on
    # everyone else's as if it were what we send each of them.
    alice = calls[0]

    def measured() -> bool:
        local = alice.state.local_participant
        others = [p for p in alice.state.participants if not p.is_local]
        return (
            local is not None and local.quality is not None and local.quality.send_kbps > 20
            and all(p.quality is not None for p in others)
        )  # fmt: skip

    await eventually(measured, timeout=20, what="quality measured")
    for participant in alice.state.participants:
        if not participant.is_local:
            assert participant.quality is not None and participant.quality.send_kbps == 0
            assert "kbit/s out" not in participant.quality.describe()


async def test_two_people_stay_peer_to_peer(connect: ClientFactory) -> None:
    calls = await _join(connect, ["alice", "bob"], unique())
    for call in calls:
        await eventually(lambda call=call: len(receiving(call)) == 1, timeout=10)
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


async def _listening_alice(connect: ClientFactory, call_id: str) -> tuple[Call, SyntheticDevices]:
    """Alice in this process, keeping 30 s of what her speaker played. The others are
    bots in processes of their own (as people are): what she hears then depends on her
    own client's work at the switch, not on three clients sharing one event loop."""
    devices = SyntheticDevices(height=120, tone_hz=440, keep_seconds=30.0)
    alice = (await connect("alice", devices=devices)).call("default", call_id)
    await alice.join(create=True)
    return alice, devices


def _heard_since(devices: SyntheticDevices, frames_before: int) -> tuple[np.ndarray, int]:
    (speaker,) = [s for s in devices.speakers if not s.closed]
    return speaker.heard((speaker.frames_played - frames_before) * 0.02), speaker.rate


def _bob_heard_throughout(devices: SyntheticDevices, before: int, moment: str) -> None:
    """Bob's tone (660 Hz) played at alice's since ``before`` without a silence of
    100 ms or more (the bar of a switch), and is what she hears at the end."""
    heard, rate = _heard_since(devices, before)
    gap = _longest_gap_ms(heard, rate)
    print(f"longest silence in bob's tone across {moment}: {gap:.0f} ms")
    assert gap < 100, f"bob's voice broke off for {gap:.0f} ms at {moment}"
    assert abs(dominant_frequency(heard[-rate:], rate) - 660) < 15


def _played(devices: SyntheticDevices) -> int:
    (speaker,) = [s for s in devices.speakers if not s.closed]
    return speaker.frames_played


async def test_a_third_person_moves_the_call_to_the_sfu_without_a_gap(
    connect: ClientFactory, bots: BotFactory
) -> None:
    call_id = unique()
    alice, devices = await _listening_alice(connect, call_id)
    bots("bob", "--join", f"default:{call_id}", "--tone", "660")
    await eventually(lambda: receiving(alice) == {"bob"}, timeout=20, what="bob")
    assert alice.media_session.mesh is not None
    await asyncio.sleep(1.5)  # bob's tone plays steadily at alice's
    before = _played(devices)

    # Carol comes in with her microphone off: what alice hears is bob alone.
    bots("carol", "--join", f"default:{call_id}", "--no-microphone")
    await eventually(
        lambda: alice.media_session.sfu is not None and alice.media_session.next_leg is None,
        timeout=30,
        what="alice on the SFU",
    )
    await eventually(lambda: receiving(alice) == {"bob", "carol"}, timeout=20)
    await asyncio.sleep(1.5)
    _bob_heard_throughout(devices, before, "the switch to the SFU")


async def test_back_at_two_the_call_returns_to_peer_to_peer_without_a_gap(
    connect: ClientFactory, bots: BotFactory
) -> None:
    call_id = unique()
    alice, devices = await _listening_alice(connect, call_id)
    bots("bob", "--join", f"default:{call_id}", "--tone", "660")
    carol = bots("carol", "--join", f"default:{call_id}", "--no-microphone")
    await eventually(
        lambda: alice.media_session.sfu is not None and receiving(alice) == {"bob", "carol"},
        timeout=30,
        what="alice on the SFU",
    )
    await asyncio.sleep(1.5)
    before = _played(devices)

    carol.stop()  # she closes the app
    # The coordinator waits a while (2 s in these tests) before the call goes back.
    await eventually(
        lambda: alice.media_session.mesh is not None and alice.media_session.next_leg is None,
        timeout=30,
        what="alice peer to peer again",
    )
    await eventually(lambda: receiving(alice) == {"bob"}, timeout=10)
    await asyncio.sleep(1.5)
    _bob_heard_throughout(devices, before, "the switch back to peer to peer")


async def test_someone_leaving_moves_the_others_to_a_fresh_room_without_a_gap(
    connect: ClientFactory, bots: BotFactory
) -> None:
    """Janus does not end a leaver's subscriptions, so the others move to a fresh room
    (docs/decisions.md); for them it is one more switch, make before break."""
    call_id = unique()
    alice, devices = await _listening_alice(connect, call_id)
    bots("bob", "--join", f"default:{call_id}", "--tone", "660")
    bots("carol", "--join", f"default:{call_id}", "--no-microphone")
    dave = bots("dave", "--join", f"default:{call_id}", "--no-microphone")

    def settled() -> bool:
        media = alice.media_session
        return media.sfu is not None and media.next_leg is None

    await eventually(
        lambda: settled() and receiving(alice) == {"bob", "carol", "dave"},
        timeout=40,
        what="alice receiving everyone through the SFU",
    )
    assert alice.media_session.leg is not None
    room = alice.media_session.leg.room
    await asyncio.sleep(1.5)
    before = _played(devices)

    dave.stop()
    await eventually(
        lambda: settled() and alice.media_session.leg is not None
        and alice.media_session.leg.room != room,
        timeout=30,
        what="alice in a fresh room",
    )  # fmt: skip
    await eventually(lambda: receiving(alice) == {"bob", "carol"}, timeout=10)
    await asyncio.sleep(1.5)
    _bob_heard_throughout(devices, before, "the move to a fresh room")
