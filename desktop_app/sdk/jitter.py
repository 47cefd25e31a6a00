"""A video jitter buffer that hands a frame over as soon as it is whole.

aiortc's ``JitterBuffer`` releases a video frame only when the *next* frame's first packet
arrives (that is how it knows the frame ended), so every picture waits one frame interval
— 33 ms at 30 fps — on top of the network, and the first picture of a call waits for the
second. The RTP marker bit says "last packet of this frame" (RFC 3550; aiortc and browsers
set it on video), so a frame whose packets are all in, ending with a marked one, can be
decoded at once. Anything else (a lost packet, a sender that never marks) falls back to
aiortc's own rule, so nothing is ever released incomplete that aiortc would have held.

**A frame that cannot be completed is given up.** When a packet stays missing (its
retransmission lost too, or a network gone for seconds), aiortc's buffer holds the frame
until 512 packets have piled up behind it — three to five seconds of a frozen picture —
before it asks the sender for a keyframe. This buffer gives up once the newest packet is
:data:`STALE_SECONDS` ahead of the held frame: it drops what it holds and asks for a
keyframe (a PLI) at once, so the picture comes back one round trip later. On a long path
the limit grows to twice the round trip (:func:`fit_to_round_trip`): a retransmission
takes a round trip to come, and one on its way must not be given up for a keyframe.

aiortc has no option for this; :func:`install` replaces the buffer of a video receiver
(a private attribute — a test checks that it is still there after an aiortc upgrade).
"""

from __future__ import annotations

import logging

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

log = logging.getLogger(__name__)

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
VIDEO_CAPACITY = 512  # aiortc's own size for video


#: How far (in media time) the newest packet may run ahead of a held, incomplete frame…
STALE_SECONDS = 0.4
#: … and how far at most, whatever the round trip (aiortc's own rule takes over beyond).
LONGEST_STALE_SECONDS = 2.0
VIDEO_CLOCK_RATE = 90_000


def _ahead(timestamp: int, than: int) -> int:
    """How many RTP clock ticks ``timestamp`` is after ``than`` (32-bit wrap-around)."""
    difference = (timestamp - than) & 0xFFFFFFFF
    return difference if difference < 0x80000000 else -((than - timestamp) & 0xFFFFFFFF)


class PromptJitterBuffer(JitterBuffer):
    def __init__(self) -> None:
        super().__init__(capacity=VIDEO_CAPACITY, is_video=True)
        self.stale_seconds = STALE_SECONDS

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        keyframe_wanted, frame = super().add(packet)
        if frame is not None or self._origin is None:
            return keyframe_wanted, frame
        held = self._held_timestamp()
        if (
            held is not None
            and _ahead(packet.timestamp, held) > self.stale_seconds * VIDEO_CLOCK_RATE
        ):
            # Everything before this packet goes, and the sender is asked for a keyframe:
            # the frames in between would not decode without the ones given up.
            self.remove(uint16_add(packet.sequence_number, -self._origin))
            return True, self._remove_frame(packet.sequence_number)
        return keyframe_wanted, frame

    def _held_timestamp(self) -> int | None:
        """The media time of the oldest packet held (the frame everything waits for)."""
        origin = self._origin
        assert origin is not None
        for count in range(self.capacity):
            packet = self._packets[(origin + count) % self.capacity]
            if packet is not None:
                return int(packet.timestamp)
        return None

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is not None:
            timestamp: int | None = None
            for count in range(self.capacity):
                packet = self._packets[(origin + count) % self.capacity]
                if packet is None or (timestamp is not None and packet.timestamp != timestamp):
                    break  # a gap, or the next frame: aiortc's rule decides
                timestamp = packet.timestamp
                if packet.marker:
                    first = [self._packets[(origin + i) % self.capacity] for i in range(count + 1)]
                    data = b"".join(p._data for p in first if p is not None)  # type: ignore[attr-defined]
                    self.remove(count + 1)
                    return JitterFrame(data=data, timestamp=timestamp)
        return super()._remove_frame(sequence_number)


class GapSkippingAudioBuffer(JitterBuffer):
    """aiortc's audio buffer (16 packets, 4 frames held against jitter) that steps over a
    lost packet instead of waiting for it.

    Audio is never retransmitted, yet aiortc's buffer counts its four held frames only up
    to the first gap: behind a lost packet it releases nothing until 16 packets pile up,
    then throws away the frames it was holding *before* the gap to make room. Each lost
    packet cost five frames: with 5 % loss, 30–43 of 50 frames a second arrived. Here a
    present packet goes out as soon as four more are held behind it, gaps or not, and a
    gap at the front is skipped (Opus and G.711 carry one frame per packet)."""

    def __init__(self) -> None:
        super().__init__(capacity=AUDIO_CAPACITY, prefetch=AUDIO_PREFETCH)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        origin = self._origin
        if origin is None:
            return None
        newest = max(0, min(uint16_add(sequence_number, -origin), self.capacity - 1))
        present = [
            (count, packet)
            for count in range(newest + 1)
            if (packet := self._packets[(origin + count) % self.capacity]) is not None
        ]
        if len(present) <= self._prefetch:
            return None
        count, first = present[0]
        self.remove(count + 1)
        return JitterFrame(data=first._data, timestamp=first.timestamp)  # type: ignore[attr-defined]


#: aiortc's own sizes for audio.
AUDIO_CAPACITY = 16
AUDIO_PREFETCH = 4


def install(receiver: RTCRtpReceiver) -> bool:
    """Give a receiver our buffer for its kind (before media flows): the prompt one for
    video, the gap-skipping one for audio; says whether it could."""
    current = getattr(receiver, _ATTRIBUTE, None)
    if isinstance(current, (PromptJitterBuffer, GapSkippingAudioBuffer)):
        return True
    if not isinstance(current, JitterBuffer) or current._origin is not None:
        log.warning("aiortc's receiver changed: keeping its own jitter buffer")
        return False
    setattr(
        receiver,
        _ATTRIBUTE,
        PromptJitterBuffer() if current._is_video else GapSkippingAudioBuffer(),
    )
    return True


def stale_seconds_for(round_trip_ms: float | None) -> float:
    """Twice the round trip (the NACK's way out, the packet's way back, and as long
    again for the sender's pacing), within :data:`STALE_SECONDS` … :data:`LONGEST_STALE_SECONDS`."""
    if round_trip_ms is None:
        return STALE_SECONDS
    return min(LONGEST_STALE_SECONDS, max(STALE_SECONDS, 2 * round_trip_ms / 1000))


def fit_to_round_trip(receiver: RTCRtpReceiver, round_trip_ms: float | None) -> None:
    """Let a receiver's video buffer wait as long as a retransmission over this path takes."""
    buffer = getattr(receiver, _ATTRIBUTE, None)
    if isinstance(buffer, PromptJitterBuffer):
        buffer.stale_seconds = stale_seconds_for(round_trip_ms)
