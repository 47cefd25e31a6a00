"""What sfu_subscription.learn_ssrcs and rtc.inbound_counts reach inside aiortc is still there (they
would silently do nothing after an upgrade that renamed it)."""

from __future__ import annotations

from aiortc import RTCPeerConnection, RTCSessionDescription

from desktop_app.media.synthetic import SyntheticVideoTrack
from desktop_app.sdk.sfu_subscription import learn_ssrcs


async def test_a_receivers_ssrcs_can_still_be_taught() -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    try:
        sender.addTrack(SyntheticVideoTrack(160, 120))
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(
            RTCSessionDescription(sender.localDescription.sdp, "offer")
        )
        await receiver.setLocalDescription(await receiver.createAnswer())
        (transceiver,) = receiver.getTransceivers()
        inner = transceiver.receiver
        assert isinstance(getattr(inner, "_RTCRtpReceiver__rtx_ssrc", None), dict)
        assert isinstance(getattr(inner, "_RTCRtpReceiver__remote_streams", None), dict)
        router = inner.transport._rtp_router
        learned = learn_ssrcs(receiver, sender.localDescription.sdp)
        offered = [
            int(line.split()[0].split(":")[1])
            for line in sender.localDescription.sdp.splitlines()
            if line.startswith("a=ssrc:")
        ]
        assert offered and all(router.ssrc_table.get(ssrc) is inner for ssrc in offered)
        assert learned == {transceiver.mid: set(offered)}
        rtx = inner._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]
        assert rtx, "the retransmission SSRC maps to the media one"
    finally:
        await sender.close()
        await receiver.close()
