"""The ring state machine, without sockets: answers and a clock in, outcomes out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desktop_app.coordinator import ring as r
from desktop_app.protocol.settings import RingSettings

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = RingSettings(
    auto_cancel_timeout_ms=30_000, incoming_call_timeout_ms=20_000, missed_call_timeout_ms=60_000
)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(*callees: str, online: tuple[str, ...] | None = None) -> r.Ring:
    ring, outcomes = r.start(
        "caller",
        callees,
        video=True,
        settings=SETTINGS,
        now=T0,
        online=callees if online is None else online,
    )
    assert outcomes == [r.Rung(tuple(callees))]
    return ring


def test_one_to_one_accept() -> None:
    ring = started("bob")
    assert ring.pending() == ["bob"] and ring.next_deadline() == s(20)
    assert r.accept(ring, "bob", s(3)) == [r.Accepted("bob"), r.Ended(r.RingEnd.ANSWERED)]
    assert not ring.ringing and ring.accepted == {"bob": s(3)}
    assert ring.next_deadline() is None


def test_one_reject_does_not_end_the_ring_for_the_other() -> None:
    ring = started("bob", "cy")
    assert r.reject(ring, "bob", r.RejectReason.DECLINE, s(1)) == [
        r.Rejected("bob", r.RejectReason.DECLINE)
    ]
    assert ring.ringing and ring.pending() == ["cy"]
    assert r.accept(ring, "cy", s(2)) == [r.Accepted("cy"), r.Ended(r.RingEnd.ANSWERED)]


def test_all_reject_ends_the_ring() -> None:
    ring = started("bob", "cy")
    r.reject(ring, "bob", r.RejectReason.DECLINE, s(1))
    assert r.reject(ring, "cy", r.RejectReason.BUSY, s(2)) == [
        r.Rejected("cy", r.RejectReason.BUSY),
        r.Ended(r.RingEnd.ANSWERED),
    ]
    assert ring.rejected["cy"] == (s(2), r.RejectReason.BUSY)


def test_caller_cancel_stops_everyone_and_they_missed_it() -> None:
    ring = started("bob", "cy")
    r.reject(ring, "bob", r.RejectReason.DECLINE, s(1))
    outcomes = r.reject(ring, "caller", r.RejectReason.CANCEL, s(2))
    assert outcomes == [
        r.Rejected("caller", r.RejectReason.CANCEL),
        r.Missed("cy"),
        r.Ended(r.RingEnd.CANCELLED),
    ]
    assert "bob" not in ring.missed, "a decline stays a decline"


def test_callee_timeout_is_missed_not_declined() -> None:
    ring = started("bob", "cy")
    assert r.reject(ring, "bob", r.RejectReason.TIMEOUT, s(20)) == [r.Missed("bob")]
    assert "bob" in ring.missed and "bob" not in ring.rejected


def test_incoming_deadline_misses_one_callee_at_a_time() -> None:
    ring = started("bob", "cy", online=("bob",))
    assert ring.deadlines == {"bob": s(20), "cy": s(60)}, (
        "offline callees get the missed-call timeout"
    )
    assert r.tick(ring, s(19)) == []
    r.accept(ring, "cy", s(5))
    assert r.tick(ring, s(20)) == [r.Missed("bob"), r.Ended(r.RingEnd.ANSWERED)]
    assert r.tick(ring, s(21)) == [], "ticks are idempotent"


def test_auto_cancel_when_nobody_accepted() -> None:
    ring = started("bob", "cy", online=())
    assert ring.next_deadline() == s(30)
    outcomes = r.tick(ring, s(30))
    assert outcomes == [
        r.Rejected("caller", r.RejectReason.TIMEOUT),
        r.Missed("bob"),
        r.Missed("cy"),
        r.Ended(r.RingEnd.AUTO_CANCELLED),
    ]
    assert r.tick(ring, s(31)) == []


def test_no_auto_cancel_once_someone_accepted() -> None:
    ring = started("bob", "cy", online=())
    r.accept(ring, "bob", s(1))
    assert ring.next_deadline() == s(60)
    assert r.tick(ring, s(30)) == []
    assert r.tick(ring, s(60)) == [r.Missed("cy"), r.Ended(r.RingEnd.ANSWERED)]


@pytest.mark.parametrize(
    ("user", "reason", "kind"),
    [
        ("bob", r.RejectReason.CANCEL, "reason"),
        ("caller", r.RejectReason.DECLINE, "reason"),
        ("caller", r.RejectReason.BUSY, "reason"),
        ("stranger", r.RejectReason.DECLINE, "not_rung"),
    ],
)
def test_wrong_answers_are_refused_and_change_nothing(
    user: str, reason: r.RejectReason, kind: str
) -> None:
    ring = started("bob")
    before = r.to_json(ring)
    with pytest.raises(r.RingError) as refused:
        r.reject(ring, user, reason, s(1))
    assert refused.value.kind == kind
    assert r.to_json(ring) == before


def test_answers_after_the_ring_are_refused() -> None:
    ring = started("bob")
    r.accept(ring, "bob", s(1))
    for action in (
        lambda: r.accept(ring, "bob", s(2)),
        lambda: r.reject(ring, "bob", r.RejectReason.DECLINE, s(2)),
    ):
        with pytest.raises(r.RingError) as refused:
            action()
        assert refused.value.kind == "not_ringing"
    with pytest.raises(r.RingError):
        r.accept(ring, "caller", s(2))


def test_missed_callee_cannot_accept_while_others_ring() -> None:
    ring = started("bob", "cy", online=("bob",))
    r.tick(ring, s(20))
    with pytest.raises(r.RingError, match="stopped ringing you"):
        r.accept(ring, "bob", s(21))


def test_ringing_more_members_into_a_ring() -> None:
    ring = started("bob")
    assert r.add_callees(
        ring, ["bob", "dee", "caller"], settings=SETTINGS, now=s(5), online=["dee"]
    ) == [r.Rung(("dee",))]
    assert ring.deadlines["dee"] == s(25)


def test_nobody_to_ring() -> None:
    with pytest.raises(r.RingError) as refused:
        r.start("caller", ["caller"], video=False, settings=SETTINGS, now=T0, online=[])
    assert refused.value.kind == "no_callees"


def test_stop_when_the_call_ends() -> None:
    ring = started("bob")
    assert r.stop(ring, r.RingEnd.CALL_ENDED, s(4)) == [
        r.Missed("bob"),
        r.Ended(r.RingEnd.CALL_ENDED),
    ]
    assert r.stop(ring, r.RingEnd.CALL_ENDED, s(5)) == []


def test_storage_round_trip() -> None:
    ring = started("bob", "cy", "dee")
    r.accept(ring, "bob", s(1))
    r.reject(ring, "cy", r.RejectReason.BUSY, s(2))
    r.tick(ring, s(20))
    assert r.from_json(r.to_json(ring)) == ring
