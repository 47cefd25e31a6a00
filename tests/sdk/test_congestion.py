"""``sdk/congestion.py``: the retransmission and keyframe limiters, the bitrate floors, and
that they are fitted to a real aiortc sender (whose private methods they wrap). What they
do for a call behind a 300 kbit/s uplink is measured in ``tests/net/test_faults.py``."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection, RTCRtpCodecParameters
from aiortc.codecs import vpx

from desktop_app.media.grid_layer import GRID_BITRATE, GridLayerTrack
from desktop_app.media.synthetic import SyntheticVideoTrack
from desktop_app.sdk.congestion import (
    KEYFRAME_GAP_SECONDS,
    RETRANSMIT_GAP_SECONDS,
    VP8_MIN_BITRATE,
    KeyframeLimiter,
    RetransmitLimiter,
    allow_low_bitrates,
    cap_bitrate,
    tune_sender,
)


def test_a_packet_is_resent_at_most_twice_and_never_twice_in_a_moment() -> None:
    limiter = RetransmitLimiter()
    assert limiter.allow(7, now=10.0)
    assert not limiter.allow(7, now=10.0 + RETRANSMIT_GAP_SECONDS / 2), "asked again at once"
    assert limiter.allow(8, now=10.05), "another packet is its own matter"
    assert limiter.allow(7, now=10.01 + RETRANSMIT_GAP_SECONDS)
    assert not limiter.allow(7, now=20.0), "twice is enough: by now it is too late anyway"


def test_keyframes_come_at_most_once_a_gap_and_a_late_request_gets_one() -> None:
    limiter = KeyframeLimiter()
    assert limiter.request(5.0) == 0.0
    # Inside the gap: not now, but at its end (an SFU's new subscriber must see one) …
    assert limiter.request(5.0 + KEYFRAME_GAP_SECONDS / 4) == KEYFRAME_GAP_SECONDS * 3 / 4
    # … and what else asks meanwhile is covered by that one.
    assert limiter.request(5.0 + KEYFRAME_GAP_SECONDS / 2) is None
    limiter.forced(5.0 + KEYFRAME_GAP_SECONDS)
    assert limiter.request(5.0 + KEYFRAME_GAP_SECONDS * 1.5) == KEYFRAME_GAP_SECONDS / 2
    limiter.forced(5.0 + KEYFRAME_GAP_SECONDS * 2)
    assert limiter.request(5.0 + KEYFRAME_GAP_SECONDS * 3) == 0.0


def test_the_encoder_may_go_below_aiortcs_floor() -> None:
    allow_low_bitrates()
    encoder = vpx.Vp8Encoder()
    encoder.target_bitrate = 80_000  # what a receiver on a thin link estimates
    assert encoder.target_bitrate == 80_000
    encoder.target_bitrate = 1_000
    assert encoder.target_bitrate == VP8_MIN_BITRATE


async def test_a_real_sender_gets_the_limiters() -> None:
    peer = RTCPeerConnection()
    try:
        sender = peer.addTrack(SyntheticVideoTrack())
        asked: list[object] = []

        async def resend(sequence_number: int) -> None:
            asked.append(sequence_number)

        sender._retransmit = resend  # type: ignore[method-assign]  # record what gets through
        sender._send_keyframe = lambda: asked.append("keyframe")  # type: ignore[method-assign]
        clock = iter([0.0, 0.01, 0.02, 0.95, 0.96, 1.02, 3.0]).__next__
        requests: list[str] = []  # (someone takes the stream: a paused layer resumes)
        assert tune_sender(sender, clock=clock, asked=lambda: requests.append("asked"))
        assert tune_sender(sender), "a second fitting changes nothing"
        await sender._retransmit(5)  # 0.0: resent
        await sender._retransmit(5)  # 0.01: too soon
        sender._send_keyframe()  # 0.02: forced
        sender._send_keyframe()  # 0.95: inside the gap: forced at its end, 70 ms on
        sender._send_keyframe()  # 0.96: covered by that one
        assert asked == [5, "keyframe"]
        await asyncio.sleep(0.2)  # 1.02: the waiting one is forced
        assert asked == [5, "keyframe", "keyframe"]
        sender._send_keyframe()  # 3.0: forced at once
        assert asked == [5, "keyframe", "keyframe", "keyframe"]
        assert requests == ["asked"] * 4, "every request is heard, limited or not"
    finally:
        await peer.close()


async def test_a_capped_sender_holds_its_encoder_under_the_ceiling() -> None:
    """A real sender's encoder, raised as an estimate from the receiver raises it, is
    back under the ceiling at the next frame; an uncapped one stays raised."""
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    peer = RTCPeerConnection()
    try:
        capped = peer.addTrack(GridLayerTrack(SyntheticVideoTrack(640, 480, 30)))
        free = peer.addTrack(GridLayerTrack(SyntheticVideoTrack(640, 480, 30)))
        assert cap_bitrate(capped, GRID_BITRATE)
        for sender in (capped, free):
            await sender._next_encoded_frame(vp8)
            sender._RTCRtpSender__encoder.target_bitrate = 1_000_000  # type: ignore[attr-defined]
            encoded = await sender._next_encoded_frame(vp8)
            assert encoded is not None and encoded.payloads
        assert capped._RTCRtpSender__encoder.target_bitrate == GRID_BITRATE  # type: ignore[attr-defined]
        assert free._RTCRtpSender__encoder.target_bitrate == 1_000_000  # type: ignore[attr-defined]
    finally:
        await peer.close()


def test_aiortc_still_has_what_the_limiters_wrap() -> None:
    from aiortc import RTCRtpSender

    assert callable(getattr(RTCRtpSender, "_retransmit", None))
    assert callable(getattr(RTCRtpSender, "_send_keyframe", None))
    assert callable(getattr(RTCRtpSender, "_next_encoded_frame", None))
