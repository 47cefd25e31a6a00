"""A video jitter buffer that hands a frame over as soon as it is whole.

aiortc's ``JitterBuffer`` releases a video frame only when the *next* frame's first packet
arrives (that is how it knows the frame ended), so every picture waits one frame interval
— 33 ms at 30 fps — on top of the network, and the first picture of a call waits for the
second. The RTP marker bit says "last packet of this frame" (RFC 3550; aiortc and browsers
set it on video), so a frame whose packets are all in, ending with a marked one, can be
decoded at once. Anything else (a lost packet, a sender that never marks) falls back to
aiortc's own rule, so nothing is ever released incomplete that aiortc would have held.

aiortc has no option for this; :func:`install` replaces the buffer of a video receiver
(a private attribute — a test checks that it is still there after an aiortc upgrade).
"""

from __future__ import annotations

import logging

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

log = logging.getLogger(__name__)

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"
VIDEO_CAPACITY = 512  # aiortc's own size for video


class PromptJitterBuffer(JitterBuffer):
    def __init__(self) -> None:
        super().__init__(capacity=VIDEO_CAPACITY, is_video=True)

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


def install(receiver: RTCRtpReceiver) -> bool:
    """Give a video receiver the prompt buffer (before media flows); says whether it could."""
    current = getattr(receiver, _ATTRIBUTE, None)
    if isinstance(current, PromptJitterBuffer):
        return True
    if not isinstance(current, JitterBuffer) or current._origin is not None:
        log.warning("aiortc's receiver changed: keeping its own jitter buffer")
        return False
    if not current._is_video:
        return False
    setattr(receiver, _ATTRIBUTE, PromptJitterBuffer())
    return True
