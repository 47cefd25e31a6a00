"""``sdk/early_signals.py`` and its use: a peer's offer that arrives before our join
answer — or while the media is being set up (the ICE probe takes up to a second where UDP
is blocked) — is kept and answered once our mesh exists: the peer offers once and never
again. Real aiortc on both ends."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from desktop_app.media.synthetic import SyntheticAudioTrack
from desktop_app.protocol.calls import MediaInfo
from desktop_app.protocol.events import CallSignalEvent
from desktop_app.protocol.examples import AT, BOB, CALL
from desktop_app.sdk.call_state import CallState
from desktop_app.sdk.device_managers import InputDeviceManager, SpeakerManager
from desktop_app.sdk.devices import SyntheticDevices
from desktop_app.sdk.early_signals import EARLY_SIGNAL_SECONDS, EarlySignals
from desktop_app.sdk.media_session import CallMedia
from tests.sdk.support import eventually


async def test_an_offer_before_and_during_set_up_is_answered() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    devices = SyntheticDevices()
    session = CallMedia(
        CallState("alice"),
        InputDeviceManager(devices, "camera"),
        InputDeviceManager(devices, "microphone"),
        SpeakerManager(devices),
        send,
        lambda _: None,
    )
    bob = RTCPeerConnection()
    try:
        bob.addTrack(SyntheticAudioTrack())
        await bob.setLocalDescription(await bob.createOffer())
        offer = CallSignalEvent(
            call_cid=CALL.cid,
            created_at=AT,
            call=CALL,
            from_session_id="zz-bob",
            to_session_id="aa-alice",
            user=BOB,
            signal={"type": "offer", "sdp": bob.localDescription.sdp},
        )
        session.expect()  # our join is on its way …
        session.signal(offer)  # … and Bob, already in, offers before its answer arrives
        await session.connect(MediaInfo(session_id="aa-alice"), video=False)
        answers = await eventually(
            lambda: [m for m in sent if m["signal"].get("type") == "answer"],
            what="our answer to the early offer",
        )
        assert answers[0]["to_session_id"] == "zz-bob"
        await bob.setRemoteDescription(RTCSessionDescription(**answers[0]["signal"]))
        await eventually(lambda: bob.connectionState == "connected", timeout=10)
    finally:
        await session.close()
        await bob.close()
        await asyncio.sleep(0)


def _signal(n: int) -> CallSignalEvent:
    return CallSignalEvent(
        call_cid=CALL.cid,
        created_at=AT,
        call=CALL,
        from_session_id="bob-1",
        to_session_id="alice-1",
        user=BOB,
        signal={"type": "candidate", "n": n},
    )


def test_kept_signals_are_given_once_in_order_and_stale_ones_never() -> None:
    now = 100.0
    early = EarlySignals(clock=lambda: now)
    early.keep(_signal(1))
    now += EARLY_SIGNAL_SECONDS - 1
    early.keep(_signal(2))
    early.keep(_signal(3))
    now += 2  # the first is stale now
    assert [event.signal["n"] for event in early.take()] == [2, 3]
    assert early.take() == [], "given once"
    early.keep(_signal(4))
    now += EARLY_SIGNAL_SECONDS
    early.keep(_signal(5))
    assert len(early) == 1, "stale ones are dropped as new ones come"
    early.clear()
    assert early.take() == []
