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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from desktop_app.protocol.calls import IceServer

log = logging.getLogger(__name__)

SignalSender = Callable[[str, dict[str, Any]], Awaitable[None]]
TrackListener = Callable[[str, MediaStreamTrack], None]

_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    found = list(_original_host_addresses(use_ipv4, use_ipv6))
    if use_ipv4 and "127.0.0.1" not in found:
        found.append("127.0.0.1")
    return found


def allow_loopback() -> None:
    """Let ICE offer 127.0.0.1 as a host candidate (idempotent)."""
    aioice.ice.get_host_addresses = _host_addresses_with_loopback


def rtc_configuration(ice_servers: list[IceServer]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s.urls, username=s.username, credential=s.credential)
            for s in ice_servers
        ]
    )


class PeerMesh:
    def __init__(
        self,
        local_session_id: str,
        ice_servers: list[IceServer],
        tracks: Sequence[MediaStreamTrack],
        send_signal: SignalSender,
        on_track: TrackListener,
    ) -> None:
        allow_loopback()
        self.local_session_id = local_session_id
        self.ice_servers = ice_servers
        self.tracks = tracks
        self.send_signal = send_signal
        self.on_track = on_track
        self.peers: dict[str, RTCPeerConnection] = {}
        self._lock = asyncio.Lock()

    def _peer(self, remote: str) -> RTCPeerConnection:
        peer = self.peers.get(remote)
        if peer is not None:
            return peer
        peer = RTCPeerConnection(rtc_configuration(self.ice_servers))
        for track in self.tracks:
            peer.addTrack(track)

        @peer.on("track")
        def _track(track: MediaStreamTrack) -> None:
            self.on_track(remote, track)

        @peer.on("connectionstatechange")
        async def _state() -> None:
            log.debug("peer %s: %s", remote, peer.connectionState)

        self.peers[remote] = peer
        return peer

    async def seen(self, remote: str) -> None:
        """A participant session is in the call: connect if it is ours to offer."""
        if (
            remote == self.local_session_id
            or remote in self.peers
            or self.local_session_id < remote
        ):
            return
        async with self._lock:
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
            if kind == "offer":
                old = self.peers.pop(remote, None)
                if old is not None:  # the other side started over (rejoin)
                    await old.close()
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

    async def drop(self, remote: str) -> None:
        peer = self.peers.pop(remote, None)
        if peer is not None:
            await peer.close()

    async def close(self) -> None:
        for remote in list(self.peers):
            await self.drop(remote)
