"""STUN/TURN URLs as both sides read them: the coordinator checks its configured ones, the
SDK orders a join's ones for aiortc. ``stun:``/``stuns:``/``turn:``/``turns:``, a host
(a name, an IPv4 address or a bracketed IPv6 one), an optional port and, for TURN, an
optional ``?transport=udp|tcp`` — what aiortc and browsers accept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:(?P<port>\d{1,5}))?"
    r"(\?transport=(?P<transport>udp|tcp))?$"
)


@dataclass(frozen=True)
class IceUrl:
    scheme: str
    host: str
    #: The port given, or the scheme's default (3478; 5349 for ``stuns``/``turns``).
    port: int
    #: The transport given, or the scheme's default (UDP; TCP for ``turns``).
    transport: Literal["udp", "tcp"]
    transport_given: bool

    @property
    def is_turn(self) -> bool:
        return self.scheme.startswith("turn")

    @property
    def over_udp(self) -> bool:
        return self.transport == "udp"


def parse_ice_url(url: str) -> IceUrl | None:
    """The parts of ``url``, or None when it is not a STUN or TURN URL."""
    match = _URL.match(url)
    if match is None:
        return None
    scheme = match["scheme"]
    secure = scheme.endswith("s")
    port = int(match["port"]) if match["port"] else (5349 if secure else 3478)
    given = match["transport"]
    transport: Literal["udp", "tcp"] = (
        "tcp" if given == "tcp" or (given is None and secure) else "udp"
    )
    return IceUrl(scheme, match["host"].strip("[]"), port, transport, given is not None)
