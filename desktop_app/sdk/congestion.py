"""What Parley adds to aiortc's congestion control, so that a call on a thin or lossy
link slows down instead of drowning.

aiortc already has the receiver half of Google's congestion control: the receiver
estimates the bandwidth from packet delays and sends it back (REMB), and the sender sets
its video encoder's target bitrate to it. Measured behind a 300 kbit/s uplink
(``tests/net``), the estimate came down to ~125 kbit/s within 1.5 s — yet the sender went
on sending over 1 Mbit/s and audio lost most of its packets, for three reasons:

* **A floor.** aiortc's VP8 encoder never goes below 250 kbit/s (H.264: 500 kbit/s),
  whatever the estimate says. :func:`allow_low_bitrates` lowers the floors.
* **Retransmission storms.** aiortc's receiver asks again for *every* packet still
  missing (up to 128) each time a new one goes missing, and its sender retransmits each
  request. On a saturated link every retransmission makes more losses, which make more
  requests. :class:`RetransmitLimiter` resends one packet at most twice, and not again
  within :data:`RETRANSMIT_GAP_SECONDS`.
* **Keyframe storms.** Every picture that fails to decode asks for a keyframe, and a
  keyframe is many times a normal frame. :class:`KeyframeLimiter` makes at most one per
  :data:`KEYFRAME_GAP_SECONDS`; a request inside the gap gets one at its end.

The limiters are sans-I/O (they take the time); :func:`tune_sender` fits them to an
aiortc sender by wrapping two of its private methods (aiortc has no hooks; a test checks
they are still there after an upgrade). :func:`cap_bitrate` holds a sender's video below a
ceiling whatever the estimate says (a grid layer needs little, and Janus rooms without a
bitrate send no estimate: aiortc's encoder then stays at its default, ~0.5–1 Mbit/s).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from aiortc import RTCRtpSender
from aiortc.codecs import h264, vpx

#: The lowest video bitrates the encoders may be asked for (bits per second).
VP8_MIN_BITRATE = 50_000
H264_MIN_BITRATE = 100_000
RETRANSMIT_GAP_SECONDS = 0.2
RETRANSMIT_TIMES = 2
KEYFRAME_GAP_SECONDS = 1.0
#: Sequence numbers remembered (aiortc keeps 128 packets to resend from).
_REMEMBERED = 512


def allow_low_bitrates() -> None:
    """Let the receiver's estimate take video below aiortc's floors (idempotent)."""
    vpx.MIN_BITRATE = VP8_MIN_BITRATE
    h264.MIN_BITRATE = H264_MIN_BITRATE


class RetransmitLimiter:
    """Whether a packet asked for again may be resent now."""

    def __init__(self) -> None:
        #: sequence number → (times resent, when last)
        self._sent: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def allow(self, sequence_number: int, now: float) -> bool:
        times, last = self._sent.get(sequence_number, (0, float("-inf")))
        if times >= RETRANSMIT_TIMES or now - last < RETRANSMIT_GAP_SECONDS:
            return False
        self._sent[sequence_number] = (times + 1, now)
        self._sent.move_to_end(sequence_number)
        while len(self._sent) > _REMEMBERED:
            self._sent.popitem(last=False)
        return True


class KeyframeLimiter:
    """When a keyframe request should force one: at most one per gap, and a request
    inside the gap gets one at the gap's end rather than none — through an SFU each new
    subscriber asks once, and one that started after the last keyframe must see another.
    Requests made while one is waiting are covered by it."""

    def __init__(self) -> None:
        self._last = float("-inf")
        self._waiting = False

    def request(self, now: float) -> float | None:
        """Seconds until the keyframe (0: now), or None when one is on its way."""
        if self._waiting:
            return None
        wait = self._last + KEYFRAME_GAP_SECONDS - now
        if wait <= 0:
            self._last = now
            return 0.0
        self._waiting = True
        return wait

    def forced(self, now: float) -> None:
        """The waiting keyframe was forced."""
        self._waiting = False
        self._last = now


def tune_sender(
    sender: RTCRtpSender,
    clock: Callable[[], float] = time.monotonic,
    asked: Callable[[], None] | None = None,
) -> bool:
    """Fit the limiters to ``sender``; says whether aiortc still had what they wrap.
    ``asked`` hears every keyframe request, limited or not (someone takes the stream)."""
    retransmit: Callable[[int], Awaitable[None]] | None = getattr(sender, "_retransmit", None)
    keyframe: Callable[[], None] | None = getattr(sender, "_send_keyframe", None)
    if retransmit is None or keyframe is None or getattr(sender, "_parley_tuned", False):
        return getattr(sender, "_parley_tuned", False)
    resends, keyframes = RetransmitLimiter(), KeyframeLimiter()

    async def limited_retransmit(sequence_number: int) -> None:
        if resends.allow(sequence_number, clock()):
            await retransmit(sequence_number)

    def forced_later() -> None:
        keyframes.forced(clock())
        keyframe()

    def limited_keyframe() -> None:
        if asked is not None:
            asked()
        wait = keyframes.request(clock())
        if wait == 0.0:
            keyframe()
        elif wait is not None:
            asyncio.get_running_loop().call_later(wait, forced_later)

    sender._retransmit = limited_retransmit  # type: ignore[method-assign]
    sender._send_keyframe = limited_keyframe  # type: ignore[method-assign]
    sender._parley_tuned = True  # type: ignore[attr-defined]
    return True


def cap_bitrate(sender: RTCRtpSender, most: int) -> bool:
    """Keep ``sender``'s video encoder at ``most`` bits per second or below (checked as each
    frame is encoded: aiortc makes its encoder at the first frame and raises its target
    on every estimate); says whether aiortc still had what this wraps."""
    encode: Callable[[object], Awaitable[object]] | None = getattr(
        sender, "_next_encoded_frame", None
    )
    if encode is None or not hasattr(sender, "_RTCRtpSender__encoder"):
        return False

    async def capped(codec: object) -> object:
        encoder = getattr(sender, "_RTCRtpSender__encoder", None)
        if encoder is not None and getattr(encoder, "target_bitrate", 0) > most:
            encoder.target_bitrate = most
        return await encode(codec)

    sender._next_encoded_frame = capped  # type: ignore[method-assign,assignment]
    return True
