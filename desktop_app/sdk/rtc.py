"""Peer-to-peer media for a joined call: one aiortc peer connection per other participant.

* **Who offers.** Of two participant sessions, the one with the greater id sends the offer,
  whenever either learns of the other (at join, or on ``call.participant_joined``), so two
  peers never offer to each other at once.
* **Signalling.** aiortc gathers all candidates before it finishes ``setLocalDescription``,
  so one offer and one answer, each with its candidates, are all that travel — through
  the coordinator, to the one session they are for (``call.signal``).
* **ICE servers** come only from the join answer (none on a bare deployment); aiortc's own
  default public STUN server is never used.
* **Loopback.** aioice leaves 127.0.0.1 out of its host candidates, so two clients on a
  host whose only interface is loopback would never connect; :func:`allow_loopback`
  adds it back.
* **One branch per peer.** Each peer connection gets its own branch of every local track
  (two senders reading one track would take turns at its frames).
* **Codecs.** Opus, and VP8 — or H.264 when *both* sides prefer it: a side that prefers
  H.264 lists it first with VP8 after it, a side that does not lists only VP8, so the
  common choice is H.264 exactly when both asked for it.
* **Jitter buffers.** Each video receiver gets :class:`~desktop_app.sdk.jitter.PromptJitterBuffer`
  (a frame is decoded when its last packet is in, not one frame later; one that cannot be
  completed is given up for a keyframe), each audio receiver
  :class:`~desktop_app.sdk.jitter.GapSkippingAudioBuffer` (a lost packet is stepped over).
* **Failure.** Each peer connection's state goes to ``on_state`` — a ``failed`` one (or
  one ``closed`` by anything but us) too; aiortc has no ICE restart, so the call rejoins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any

import aioice.ice
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from desktop_app.protocol.calls import IceServer

from . import jitter
from .call_state import ConnectionPath
from .congestion import allow_low_bitrates, tune_sender
from .ice import path_of
from .quality import InboundCounts, StatsSample, sample_of

log = logging.getLogger(__name__)

SignalSender = Callable[[str, dict[str, Any]], Awaitable[None]]
TrackListener = Callable[[str, MediaStreamTrack], None]
#: (remote session, connection state) of each of our peer connections as it changes.
StateListener = Callable[[str, str], None]
#: Makes a fresh branch of one local track for one peer connection.
TrackSource = Callable[[], MediaStreamTrack]

_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    found = list(_original_host_addresses(use_ipv4, use_ipv6))
    if use_ipv4 and "127.0.0.1" not in found:
        found.append("127.0.0.1")
    return found


def allow_loopback() -> None:
    """Let ICE offer 127.0.0.1 as a host candidate (idempotent)."""
    aioice.ice.get_host_addresses = _host_addresses_with_loopback


def video_codec_preferences(prefer_h264: bool) -> list[RTCRtpCodecCapability]:
    """VP8 (with its retransmission codec), and H.264 in front of it when preferred."""
    codecs = RTCRtpSender.getCapabilities("video").codecs
    vp8 = [c for c in codecs if c.mimeType == "video/VP8"]
    h264 = [c for c in codecs if c.mimeType == "video/H264"]
    rtx = [c for c in codecs if c.mimeType == "video/rtx"]
    return (h264 if prefer_h264 else []) + vp8 + rtx


def rtc_configuration(ice_servers: list[IceServer]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in ice_servers
        ]
    )


def inbound_counts(
    receivers: Iterable[RTCRtpReceiver], only: Collection[int] | None = None
) -> list[InboundCounts]:
    """The RFC 3550 counters of what ``receivers`` received (``only``: of these SSRCs)."""
    inbound = []
    for receiver in receivers:
        # aiortc keeps each received stream's RFC 3550 counters here only (its stats
        # report overwrites a media stream's entry with its RTX stream's); the media
        # stream is the one with the most packets.
        by_ssrc = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
        streams = [s for ssrc, s in by_ssrc.items() if only is None or ssrc in only]
        media = max(streams, key=lambda s: s.packets_received, default=None)
        if media is not None and media.max_seq is not None:
            clock_rate = getattr(media, "_clockrate", 90_000) or 90_000
            inbound.append(
                InboundCounts(
                    media.packets_received, media.packets_lost, 1000.0 * media.jitter / clock_rate
                )
            )
    return inbound


class PeerMesh:
    def __init__(
        self,
        local_session_id: str,
        ice_servers: list[IceServer],
        sources: Sequence[TrackSource],
        send_signal: SignalSender,
        on_track: TrackListener,
        on_state: StateListener | None = None,
        prefer_h264: bool = False,
    ) -> None:
        allow_loopback()
        allow_low_bitrates()
        self.local_session_id = local_session_id
        self.ice_servers = ice_servers
        self.sources = sources
        self.send_signal = send_signal
        self.on_track = on_track
        self.on_state = on_state
        self.prefer_h264 = prefer_h264
        self.peers: dict[str, RTCPeerConnection] = {}
        self._branches: dict[str, list[MediaStreamTrack]] = {}
        self._lock = asyncio.Lock()
        #: Closed for good: a signal or a participant that arrives later makes no peer
        #: (a peer nobody closes keeps aiortc's decoder thread, and the process, alive).
        self._closed = False

    def _peer(self, remote: str) -> RTCPeerConnection:
        peer = self.peers.get(remote)
        if peer is not None:
            return peer
        peer = RTCPeerConnection(rtc_configuration(self.ice_servers))
        branches = self._branches[remote] = [source() for source in self.sources]
        for track in branches:
            tune_sender(peer.addTrack(track))
        for transceiver in peer.getTransceivers():
            if transceiver.kind == "video":
                transceiver.setCodecPreferences(video_codec_preferences(self.prefer_h264))
            jitter.install(transceiver.receiver)

        @peer.on("track")
        def _track(track: MediaStreamTrack) -> None:
            for transceiver in peer.getTransceivers():  # made by the offer, if any
                jitter.install(transceiver.receiver)
            self.on_track(remote, track)

        @peer.on("connectionstatechange")
        async def _state() -> None:
            state = peer.connectionState
            log.debug("peer %s: %s", remote, state)
            if self.peers.get(remote) is peer and self.on_state is not None:
                self.on_state(remote, state)

        self.peers[remote] = peer
        return peer

    async def statistics(self, remote: str, at: float) -> StatsSample | None:
        """The counters of our peer connection with ``remote`` (``quality.sample_of``);
        its video buffers learn the round trip from them."""
        peer = self.peers.get(remote)
        if peer is None:
            return None
        sample = sample_of(await peer.getStats(), inbound_counts(peer.getReceivers()), at)
        for receiver in peer.getReceivers():  # the round trip is known now: fit the buffers
            jitter.fit_to_round_trip(receiver, sample.round_trip_ms)
        return sample

    def path(self, remote: str) -> ConnectionPath | None:
        peer = self.peers.get(remote)
        return path_of(peer) if peer is not None else None

    def video_codec(self, remote: str) -> str | None:
        """The video codec sent to ``remote`` (``video/VP8``, ``video/H264``), once agreed."""
        peer = self.peers.get(remote)
        for transceiver in peer.getTransceivers() if peer else []:
            codecs = transceiver._codecs  # aiortc keeps the negotiated list here only
            if transceiver.kind == "video" and codecs:
                return str(codecs[0].mimeType)
        return None

    async def seen(self, remote: str) -> None:
        """A participant session is in the call: connect if it is ours to offer."""
        if remote == self.local_session_id or self.local_session_id < remote:
            return
        async with self._lock:
            if self._closed:
                return
            if remote in self.peers:  # checked under the lock: the join answer and the
                return  # participant's event may both announce the same session
            peer = self._peer(remote)
            await peer.setLocalDescription(await peer.createOffer())
        await self.send_signal(remote, {"type": "offer", "sdp": peer.localDescription.sdp})

    async def signal(self, remote: str, signal: dict[str, Any]) -> None:
        kind = signal.get("type")
        sdp = signal.get("sdp")
        if kind not in ("offer", "answer") or not isinstance(sdp, str):
            log.info("ignoring a signal of type %r from %s", kind, remote)
            return
        async with self._lock:
            if self._closed:
                return
            if kind == "offer":
                await self._close(remote)  # the other side started over (it rejoined)
                peer = self._peer(remote)
                await peer.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                await peer.setLocalDescription(await peer.createAnswer())
                answer = {"type": "answer", "sdp": peer.localDescription.sdp}
            else:
                existing = self.peers.get(remote)
                if existing is None:
                    return
                await existing.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
                return
        await self.send_signal(remote, answer)

    async def _close(self, remote: str) -> None:
        peer = self.peers.pop(remote, None)
        for branch in self._branches.pop(remote, []):
            branch.stop()
        if peer is not None:
            await peer.close()

    async def drop(self, remote: str) -> None:
        async with self._lock:
            await self._close(remote)

    async def close(self) -> None:
        """Close every peer, after any offer or answer in progress (no peer is made later)."""
        self._closed = True
        async with self._lock:
            for remote in list(self.peers):
                await self._close(remote)
