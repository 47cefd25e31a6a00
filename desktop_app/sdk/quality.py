"""Connection quality from a peer connection's statistics, as good / fair / poor — or lost.

Sans-I/O: :func:`sample_of` reads one aiortc stats report into a :class:`StatsSample`
(counters as they stand), and a :class:`QualityMeter` per remote participant turns the
samples of the last few seconds into a :class:`ConnectionQuality`. The media session polls
``getStats`` once a second and hands the samples in; nothing here touches a socket.

What each figure means, for a remote participant (what we get from them):

* **loss** — packets of theirs that never arrived, of all they sent in the window (the
  RTP sequence numbers tell), audio and video together;
* **jitter** — the variation of their packets' arrival (RFC 3550's estimate), the worst
  of their streams;
* **round trip** — from their receiver reports about *our* packets (RTCP), so it is the
  path both ways;
* **bitrate** — what arrived from them, all streams;
* **lost** — nothing at all arrived from them for :data:`SILENT_SECONDS`: no media, and
  not even the control packets (RTCP reports, ICE consent checks) that flow while their
  camera and microphone are off. The app shows "reconnecting" on their tile instead of a
  frozen picture.

For our own uplink (the local participant's quality): the loss and round trip the others
report about our packets (the worst of them), and what we send.

Thresholds (each figure rated alone; the level is the worst rating):

==========  ======== ========= =====================================
figure      good     fair      poor
==========  ======== ========= =====================================
loss        < 2 %    < 8 %     8 % or more
jitter      < 30 ms  < 80 ms   80 ms or more
round trip  < 300 ms < 600 ms  600 ms or more
==========  ======== ========= =====================================

They follow what calls tolerate: Opus hides a few percent of loss and video recovers
with retransmissions below ~5 %; jitter past ~80 ms outgrows a jitter buffer; a round
trip past ~600 ms makes people talk over each other.

The level shown falls at once and rises only after the better rating held for
:data:`RISE_SAMPLES` samples in a row: a link that is bad every other second shows as
bad, not as bars flickering between two levels (what people read as "it keeps breaking").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Samples kept (one a second: the figures cover the last 3 s), so one bad second does not
#: flip the level back and forth.
WINDOW = 4
#: Nothing at all received from a participant for this long: lost.
SILENT_SECONDS = 2.5
#: Samples in a row a better level must hold before it is shown.
RISE_SAMPLES = 3


class QualityLevel(StrEnum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"
    LOST = "lost"


#: (good below, fair below) for each figure.
LOSS_PERCENT = (2.0, 8.0)
JITTER_MS = (30.0, 80.0)
ROUND_TRIP_MS = (300.0, 600.0)


@dataclass(frozen=True)
class StatsSample:
    """One peer connection's counters at one moment (cumulative, as aiortc keeps them)."""

    at: float
    packets_received: int = 0
    packets_lost: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    #: The worst inbound stream's jitter, in milliseconds.
    jitter_ms: float = 0.0
    #: Round trip from the remote's receiver reports about our packets (None: none yet).
    round_trip_ms: float | None = None
    #: The loss the remote reported about our packets in its last report (0–1).
    remote_loss: float | None = None


@dataclass(frozen=True)
class ConnectionQuality:
    level: QualityLevel
    loss_percent: float = 0.0
    jitter_ms: float = 0.0
    round_trip_ms: float | None = None
    receive_kbps: float = 0.0
    send_kbps: float = 0.0

    def describe(self) -> str:
        """A line for a tooltip: the level and the figures behind it."""
        parts = [f"Connection: {self.level.value}"]
        if self.round_trip_ms is not None:
            parts.append(f"round trip {self.round_trip_ms:.0f} ms")
        parts.append(f"loss {self.loss_percent:.1f} %")
        parts.append(f"jitter {self.jitter_ms:.0f} ms")
        if self.receive_kbps:
            parts.append(f"{self.receive_kbps:.0f} kbit/s in")
        if self.send_kbps:
            parts.append(f"{self.send_kbps:.0f} kbit/s out")
        return " · ".join(parts)


def _rate(value: float | None, bounds: tuple[float, float]) -> QualityLevel:
    if value is None or value < bounds[0]:
        return QualityLevel.GOOD
    return QualityLevel.FAIR if value < bounds[1] else QualityLevel.POOR


#: From best to worst.
ORDER = [QualityLevel.GOOD, QualityLevel.FAIR, QualityLevel.POOR, QualityLevel.LOST]


def rate(loss_percent: float, jitter_ms: float, round_trip_ms: float | None) -> QualityLevel:
    """The worst of the three figures' ratings (see the module's table)."""
    ratings = [
        _rate(loss_percent, LOSS_PERCENT),
        _rate(jitter_ms, JITTER_MS),
        _rate(round_trip_ms, ROUND_TRIP_MS),
    ]
    return max(ratings, key=ORDER.index)


class SlowRise:
    """A level that falls at once and rises after :data:`RISE_SAMPLES` better ratings —
    except out of "lost": once media arrives again, their picture is back, at once."""

    def __init__(self) -> None:
        self.shown: QualityLevel | None = None
        self._better = 0

    def settle(self, rated: QualityLevel) -> QualityLevel:
        back = self.shown is QualityLevel.LOST
        if self.shown is None or back or ORDER.index(rated) >= ORDER.index(self.shown):
            self.shown, self._better = rated, 0
        else:
            self._better += 1
            if self._better >= RISE_SAMPLES:
                self.shown, self._better = rated, 0
        return self.shown


class QualityMeter:
    """One remote participant's quality over the last :data:`WINDOW` samples."""

    def __init__(self) -> None:
        self.samples: deque[StatsSample] = deque(maxlen=WINDOW)
        #: When a packet last arrived (None: none yet).
        self._last_arrival: float | None = None
        self._level = SlowRise()

    def add(self, sample: StatsSample) -> ConnectionQuality | None:
        """The quality once two samples are in."""
        previous = self.samples[-1] if self.samples else None
        if (
            previous is None
            or sample.bytes_received > previous.bytes_received
            or sample.packets_received > previous.packets_received
        ):
            self._last_arrival = sample.at
        self.samples.append(sample)
        if len(self.samples) < 2:
            return None
        first, last = self.samples[0], self.samples[-1]
        seconds = max(last.at - first.at, 1e-3)
        received = last.packets_received - first.packets_received
        lost = max(0, last.packets_lost - first.packets_lost)
        loss = 100.0 * lost / (received + lost) if received + lost else 0.0
        silent_for = sample.at - self._last_arrival if self._last_arrival is not None else 0.0
        if silent_for >= SILENT_SECONDS:
            level = self._level.settle(QualityLevel.LOST)
        else:
            level = self._level.settle(rate(loss, last.jitter_ms, last.round_trip_ms))
        if level is QualityLevel.LOST:  # the figures of the last seconds mean nothing now
            return ConnectionQuality(
                QualityLevel.LOST, 100.0, last.jitter_ms, last.round_trip_ms, 0.0
            )
        return ConnectionQuality(
            level=level,
            loss_percent=loss,
            jitter_ms=last.jitter_ms,
            round_trip_ms=last.round_trip_ms,
            receive_kbps=(last.bytes_received - first.bytes_received) * 8 / seconds / 1000,
            send_kbps=(last.bytes_sent - first.bytes_sent) * 8 / seconds / 1000,
        )


class UplinkMeter:
    """Our own sending, from what the others report about our packets: the loss they
    report, averaged over the last :data:`WINDOW` samples (one receiver report is a
    few hundred packets: alone it swings), and the worst round trip."""

    def __init__(self) -> None:
        self.losses: deque[float] = deque(maxlen=WINDOW)
        self._level = SlowRise()

    def add(self, samples: Iterable[StatsSample], send_kbps: float) -> ConnectionQuality | None:
        reported = [s for s in samples if s.remote_loss is not None or s.round_trip_ms is not None]
        if not reported:
            return None
        self.losses.append(100.0 * max((s.remote_loss or 0.0) for s in reported))
        loss = sum(self.losses) / len(self.losses)
        trips = [s.round_trip_ms for s in reported if s.round_trip_ms is not None]
        trip = max(trips) if trips else None
        level = self._level.settle(rate(loss, 0.0, trip))
        return ConnectionQuality(level, loss_percent=loss, round_trip_ms=trip, send_kbps=send_kbps)


@dataclass(frozen=True)
class InboundCounts:
    """One received RTP stream's counters (RFC 3550): what arrived, what never did."""

    packets_received: int
    packets_lost: int
    jitter_ms: float


def sample_of(
    report: Mapping[str, Any], inbound: Iterable[InboundCounts], at: float
) -> StatsSample:
    """A sample from an aiortc ``RTCStatsReport`` (its stats objects by id: the remote's
    receiver reports about our packets, the transport's byte counts) and the counters of
    the streams we receive.

    The received streams come apart from the report: aiortc files every stream of one
    receiver under a single id, so once a retransmission (RTX) stream exists the report
    shows *its* counters instead of the media stream's, and loss computed from them swings
    past ±100 %."""
    bytes_in = bytes_out = 0
    trips: list[float] = []
    remote_loss: float | None = None
    for stats in report.values():
        kind = getattr(stats, "type", "")
        if kind == "remote-inbound-rtp":
            if stats.roundTripTime is not None:
                trips.append(1000.0 * float(stats.roundTripTime))
            fraction = float(stats.fractionLost) / 256.0  # RTCP's 8-bit fixed point
            remote_loss = max(remote_loss or 0.0, fraction)
        elif kind == "transport":
            bytes_in += int(stats.bytesReceived)
            bytes_out += int(stats.bytesSent)
    streams = list(inbound)
    return StatsSample(
        at=at,
        packets_received=sum(s.packets_received for s in streams),
        packets_lost=sum(max(0, s.packets_lost) for s in streams),
        bytes_received=bytes_in,
        bytes_sent=bytes_out,
        jitter_ms=max((s.jitter_ms for s in streams), default=0.0),
        round_trip_ms=max(trips) if trips else None,
        remote_loss=remote_loss,
    )
