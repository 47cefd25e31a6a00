"""``sdk/quality.py``: the thresholds, the meter over a window of samples, silence as
"lost", the uplink from receiver reports — and, with two real clients on loopback, a
call whose quality is measured from aiortc's own statistics. Loss, caps and a dropped
network through real NATs are in ``tests/net``."""

from __future__ import annotations

from desktop_app.sdk import CallingState
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.sdk.quality import (
    QualityLevel,
    QualityMeter,
    StatsSample,
    UplinkMeter,
    rate,
)
from desktop_app.sdk.rtc import inbound_counts
from tests.sdk.conftest import ClientFactory
from tests.sdk.support import eventually
from tests.support.coordinator import unique


def test_each_figure_is_rated_and_the_worst_wins() -> None:
    assert rate(0.5, 10, 40) is QualityLevel.GOOD
    assert rate(3.0, 10, 40) is QualityLevel.FAIR
    assert rate(0.0, 90, 40) is QualityLevel.POOR
    assert rate(0.0, 10, 450) is QualityLevel.FAIR
    assert rate(0.0, 10, None) is QualityLevel.GOOD, "no round trip yet is no evidence"
    assert rate(9.0, 10, 450) is QualityLevel.POOR


def _sample(at: float, received: int, lost: int = 0, **figures: float) -> StatsSample:
    return StatsSample(
        at=at,
        packets_received=received,
        packets_lost=lost,
        bytes_received=received * 1000,
        **figures,  # type: ignore[arg-type]
    )


def test_loss_is_counted_over_the_window_not_since_the_start() -> None:
    meter = QualityMeter()
    assert meter.add(_sample(0, 0)) is None, "one sample says nothing yet"
    first = meter.add(_sample(1, 100))
    assert first is not None and first.level is QualityLevel.GOOD and first.loss_percent == 0
    assert first.receive_kbps == 800.0  # 100 kB in a second
    # a bad stretch: 20 of 120 lost
    for second in range(2, 6):
        quality = meter.add(_sample(second, 100 + (second - 1) * 100, lost=(second - 1) * 5))
    assert quality is not None and quality.level is QualityLevel.FAIR
    assert 4.5 < quality.loss_percent < 5.5
    # it passes: once the window holds only clean seconds, good again
    for second in range(6, 11):
        quality = meter.add(_sample(second, 500 + (second - 5) * 100, lost=20))
    assert quality is not None and quality.level is QualityLevel.GOOD


def test_silence_is_lost_and_a_quiet_person_is_not() -> None:
    meter = QualityMeter()
    meter.add(_sample(0, 100))
    meter.add(_sample(1, 200))
    meter.add(_sample(2, 200))  # nothing new for a second
    lost = meter.add(_sample(3.6, 200))
    assert lost is not None and lost.level is QualityLevel.LOST
    back = meter.add(_sample(4.6, 300))
    assert back is not None and back.level is not QualityLevel.LOST

    quiet = QualityMeter()  # camera and microphone off: no media, but RTCP reports flow
    for second in range(5):
        sample = StatsSample(at=second, packets_received=100, bytes_received=100 + 90 * second)
        quality = quiet.add(sample)
    assert quality is not None and quality.level is QualityLevel.GOOD


def test_through_an_sfu_arrival_is_judged_by_packets() -> None:
    """A person's streams share one connection with everyone's: their sample has packets
    but no bytes of its own (sfu.statistics)."""
    meter = QualityMeter()
    for second in range(5):
        quality = meter.add(StatsSample(at=second, packets_received=100 * second))
    assert quality is not None and quality.level is QualityLevel.GOOD
    assert quality.receive_kbps == 0, "no figure rather than another's"
    for second in range(5, 8):
        quality = meter.add(StatsSample(at=second, packets_received=400))
    assert quality is not None and quality.level is QualityLevel.LOST


def test_only_the_streams_a_receiver_carries_now_are_counted() -> None:
    """Janus recycles an m-line for another person: its receiver keeps the counters of
    the stream it carried before, which must not count (they would show as loss)."""

    class Stream:
        def __init__(self, received: int, lost: int) -> None:
            self.packets_received, self.packets_lost = received, lost
            self.max_seq, self.jitter, self._clockrate = 1, 0, 90_000

    class Receiver:
        def __init__(self) -> None:
            self._RTCRtpReceiver__remote_streams = {111: Stream(5000, 0), 222: Stream(40, 2)}

    receivers = [Receiver()]
    assert [c.packets_received for c in inbound_counts(receivers)] == [5000]  # type: ignore[arg-type]
    now = inbound_counts(receivers, only={222})  # type: ignore[arg-type]
    assert [(c.packets_received, c.packets_lost) for c in now] == [(40, 2)]


def test_the_uplink_is_the_worst_the_others_report_averaged_over_the_window() -> None:
    meter = UplinkMeter()
    assert meter.add([], 100.0) is None
    reports = [
        StatsSample(at=1, round_trip_ms=40.0, remote_loss=0.0),
        StatsSample(at=1, round_trip_ms=650.0, remote_loss=0.05),
    ]
    ours = meter.add(reports, 900.0)
    assert ours is not None and ours.level is QualityLevel.POOR  # the 650 ms round trip
    assert ours.round_trip_ms == 650.0 and ours.loss_percent == 5.0 and ours.send_kbps == 900.0
    # one report of 12 % among clean ones: fair, not poor (a single report swings)
    for loss in (0.0, 0.12, 0.0):
        ours = meter.add([StatsSample(at=2, round_trip_ms=40.0, remote_loss=loss)], 900.0)
    assert ours is not None and ours.level is QualityLevel.FAIR
    assert ours.loss_percent == (5.0 + 0.0 + 12.0 + 0.0) / 4


async def test_a_call_on_loopback_is_measured_both_ways_with_real_figures(
    connect: ClientFactory,
) -> None:
    alice = await connect("alice", devices=SyntheticDevices())
    bob = await connect("bob", devices=SyntheticDevices())
    call = alice.call("default", unique())
    await call.get_or_create(
        data={"members": [{"user_id": "alice"}, {"user_id": "bob"}]}, ring=True
    )
    ringing = await eventually(
        lambda: [c for c in bob.state.calls.value if c.state.calling_state is CallingState.RINGING]
    )
    await ringing[0].join()
    bob_seen = await eventually(
        lambda: next(
            (
                p
                for p in call.state.participants
                if p.user.id == "bob" and p.quality and p.quality.receive_kbps > 50
            ),
            None,
        ),
        timeout=15,
        what="bob's video and audio measured arriving",
    )
    # Loopback loses nothing; the level itself also depends on how busy this machine is
    # (jitter, round trip), which a test does not assert.
    assert bob_seen.quality is not None
    assert bob_seen.quality.level is not QualityLevel.LOST, bob_seen.quality
    assert bob_seen.quality.loss_percent == 0.0
    local = await eventually(
        lambda: (
            (p := call.state.local_participant)
            and p.quality
            and p.quality.send_kbps
            and p.quality.round_trip_ms is not None
            and p
        ),
        timeout=15,
        what="our uplink measured (bob's receiver reports)",
    )
    assert local.quality.loss_percent == 0.0 and local.quality.send_kbps > 50
    assert local.quality.round_trip_ms is not None and local.quality.round_trip_ms > 0
    await call.leave()
    assert all(p.quality is None for p in call.state.participants)


def test_the_level_falls_at_once_and_rises_only_once_better_held() -> None:
    """A link bad every other second shows as bad, not as flickering bars."""
    meter = QualityMeter()
    received = lost = 0
    levels = []
    # Clean, then a lossy second (10 % lost) every fourth second, then clean for good.
    # Rated alone, each lossy second leaves the window after three: good, fair, good, …
    pattern = [0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0]
    for second, dropped in enumerate(pattern):
        received, lost = received + 100 - dropped, lost + dropped
        quality = meter.add(_sample(second, received, lost))
        levels.append(quality.level.value if quality else None)
    assert levels[:3] == [None, "good", "good"]
    assert levels[3] == "fair", "it falls at once"
    # good again only once three clean windows came in a row (samples 14, 15, 16)
    assert set(levels[3:16]) == {"fair"}, levels
    assert levels[16:] == ["good", "good"], levels


async def test_after_a_switch_of_paths_the_last_figure_stands_until_the_new_one() -> None:
    """A leg switch (to the SFU, a fresh room, back to peer to peer) measures afresh; the
    first sample of the new path gives no figure yet, and the bars must not blink."""
    from datetime import UTC, datetime

    from desktop_app.protocol.users import UserResponse
    from desktop_app.sdk.call_state import CallState, Participant
    from desktop_app.sdk.media_quality import QualityWatch

    at = datetime(2026, 12, 2, tzinfo=UTC)
    state = CallState("alice")
    bob = Participant("bob-1", UserResponse(id="bob", created_at=at, updated_at=at), "user", at)
    bob.connection_state = "connected"
    state.participants_.set([bob])
    clock = iter(range(1, 100))

    async def statistics(remote: str, now: float) -> StatsSample:
        tick = next(clock)
        return StatsSample(at=tick, packets_received=50 * tick, bytes_received=5000 * tick,
                           round_trip_ms=40.0, remote_loss=0.0)  # fmt: skip

    async def reachable() -> bool:
        return True

    watch = QualityWatch(state, statistics, lambda: None, lambda: None, reachable)
    await watch.measure()
    assert bob.quality is None, "one sample: no figure yet"
    await watch.measure()
    before = bob.quality
    assert before is not None and before.level is QualityLevel.GOOD
    watch.forget()  # the call moved to another path
    await watch.measure()
    assert bob.quality == before, "the last figure stands through the new path's first sample"
    await watch.measure()
    assert bob.quality is not None and bob.quality is not before, "then the new path's own"
