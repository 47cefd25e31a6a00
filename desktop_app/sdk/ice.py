"""ICE as the SDK uses it: which of the join answer's STUN/TURN servers go to aiortc, and
which path a connected peer connection took.

* **One TURN server.** aiortc uses only the *first* TURN URL it is given (and the first
  STUN URL), where a browser would try them all. A deployment lists TURN over UDP, over
  TCP and over TLS; behind a firewall that lets no UDP out, the UDP one is useless and the
  call never connects. So before a peer connection is made, :func:`usable_ice_servers`
  asks the TURN server over UDP for a STUN binding (coturn answers without credentials):
  an answer puts ``turn:…`` (UDP) first; silence puts ``?transport=tcp`` / ``turns:``
  first and drops STUN (a server-reflexive address needs UDP, and asking for one would
  only hold up candidate gathering).
* **The path.** :func:`path_of` says whether a connected peer connection runs directly
  or through a relay, and whether our leg runs over UDP or TCP. aiortc does not expose
  the selected candidate pair; this module is the one place that reads it from aioice.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from aioice import stun
from aiortc import RTCPeerConnection

from desktop_app.protocol.calls import IceServer
from desktop_app.protocol.ice_urls import parse_ice_url

from .call_state import ConnectionPath

log = logging.getLogger(__name__)

#: How long a STUN binding over UDP may take before UDP counts as blocked.
PROBE_SECONDS = 1.0
PROBE_ATTEMPTS = 3


def order_for(servers: list[IceServer], udp_open: bool) -> list[IceServer]:
    """The servers with the URLs aiortc should use first in front (pure: see the module
    docstring); URLs aiortc could not parse are left out."""
    ordered: list[IceServer] = []
    for server in servers:
        parsed = [(url, parse_ice_url(url)) for url in server.urls]
        turn = [(u, p) for u, p in parsed if p is not None and p.is_turn]
        if udp_open:
            turn.sort(key=lambda item: not item[1].over_udp)
        else:
            turn.sort(key=lambda item: item[1].over_udp)
        stun_urls = [u for u, p in parsed if p is not None and not p.is_turn]
        urls = [u for u, _ in turn] + (stun_urls if udp_open else [])
        if urls:
            ordered.append(server.model_copy(update={"urls": urls}))
    # TURN servers first: aiortc takes the first TURN URL of the whole list.
    return sorted(ordered, key=lambda s: not s.urls[0].startswith("turn"))


def probe_target(servers: list[IceServer]) -> tuple[str, int] | None:
    """Where to ask for a STUN binding over UDP: the first UDP TURN (or STUN) server."""
    for prefix in ("turn", "stun"):
        for server in servers:
            for url in server.urls:
                parsed = parse_ice_url(url)
                if parsed and parsed.scheme == prefix and parsed.over_udp:
                    return parsed.host, parsed.port
    return None


class _Probe(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answered = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if not self.answered.done():
            self.answered.set_result(True)


async def udp_reaches(host: str, port: int) -> bool:
    """Whether a STUN binding request over UDP gets an answer (a few tries)."""
    loop = asyncio.get_running_loop()
    request = bytes(
        stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    )
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            _Probe, remote_addr=(host, port), family=socket.AF_UNSPEC
        )
    except OSError:
        return False
    try:
        for _ in range(PROBE_ATTEMPTS):
            transport.sendto(request)
            try:
                await asyncio.wait_for(
                    asyncio.shield(protocol.answered), PROBE_SECONDS / PROBE_ATTEMPTS
                )
                return True
            except TimeoutError:
                continue
        return False
    finally:
        transport.close()


async def usable_ice_servers(servers: list[IceServer]) -> list[IceServer]:
    """The join answer's servers, ordered for aiortc after probing UDP to them."""
    target = probe_target(servers)
    if target is None:
        return order_for(servers, udp_open=True)
    udp_open = await udp_reaches(*target)
    if not udp_open:
        log.info("no UDP to %s:%s: TURN over TCP first", *target)
    return order_for(servers, udp_open)


def path_of(peer: RTCPeerConnection) -> ConnectionPath | None:
    """The selected candidate pair of ``peer``'s transport, once ICE has nominated one."""
    for transceiver in peer.getTransceivers():
        dtls = transceiver.sender.transport
        ice = getattr(dtls, "transport", None)
        connection = getattr(ice, "_connection", None)  # aioice.Connection
        nominated = getattr(connection, "_nominated", {}) if connection else {}
        pair = nominated.get(1)
        if pair is None:
            continue
        local, remote = pair.local_candidate, pair.remote_candidate
        relayed = "relay" in (local.type, remote.type)
        over_tcp = local.type == "relay" and getattr(connection, "turn_transport", "") == "tcp"
        return ConnectionPath(
            "relayed" if relayed else "direct",
            "tcp" if over_tcp else "udp",
            str(local.type),
            str(remote.type),
        )
    return None
