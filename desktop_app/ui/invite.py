"""Invite links: ``parley://join?server=<address>&call=<type:id>``.

A link names the server (so a person on another server is asked to sign in there first)
and the call; opening it opens that call's lobby. It holds no token: whoever opens it
joins as themselves, and the call's own permissions decide. Pure functions, no Qt: the
window and the single-instance hand-over use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from desktop_app.protocol.ids import ID_PATTERN

SCHEME = "parley"


class InviteError(ValueError):
    """A link that is not a Parley invite (the message is a sentence for a person)."""


@dataclass(frozen=True)
class Invite:
    #: The server's base URL (``http://`` or ``https://``).
    server: str
    call_type: str
    call_id: str

    @property
    def cid(self) -> str:
        return f"{self.call_type}:{self.call_id}"

    @property
    def link(self) -> str:
        query = urlencode({"server": self.server, "call": self.cid}, safe=":/")
        return f"{SCHEME}://join?{query}"


def invite_link(server: str, call_type: str, call_id: str) -> str:
    return Invite(server.rstrip("/"), call_type, call_id).link


def parse_invite(text: str) -> Invite:
    """The invite in ``text`` (a ``parley://join?…`` link), or an ``InviteError``."""
    text = text.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise InviteError("This is not a Parley link.") from None
    if parts.scheme != SCHEME or (parts.netloc or parts.path.strip("/")) != "join":
        raise InviteError("This is not a Parley link (they start with parley://join).")
    query = parse_qs(parts.query)
    server = (query.get("server") or [""])[0].strip().rstrip("/")
    call = (query.get("call") or [""])[0].strip()
    server_parts = urlsplit(server)
    if server_parts.scheme not in ("http", "https") or not server_parts.netloc:
        raise InviteError("The link does not name a server (server=https://…).")
    call_type, colon, call_id = call.rpartition(":")
    if not colon:
        call_type = "default"  # a bare id, as "join by id" takes it
    if not (re.fullmatch(ID_PATTERN, call_type or "") and re.fullmatch(ID_PATTERN, call_id)):
        raise InviteError("The link does not name a call (call=type:id).")
    return Invite(server, call_type, call_id)


def looks_like_invite(text: str) -> bool:
    return text.strip().lower().startswith(f"{SCHEME}:")
