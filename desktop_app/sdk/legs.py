"""A leg: one way of reaching the others in a call (the peer-to-peer mesh, or a Janus
room), with what has come through it and its close.

A call has one active leg and, while it switches (:mod:`.leg_switch`), a second one being
built beside it. Whether a new leg already *carries* the call — sound from everyone who
sends sound, pictures from everyone whose picture we want — is what lets the switch happen
with no word lost; it is decided here from what arrived (``flowing``), not from the state
of the connections (a connection can be up while a track's first packet is still on its way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Literal

from aiortc.mediastreams import MediaStreamTrack

from .call_state import Participant
from .rtc import PeerMesh
from .sfu import SfuConnection

log = logging.getLogger(__name__)

#: How long closing waits for a close already under way (aiortc closes in milliseconds).
CLOSE_SECONDS = 5.0
#: What a leg reaches: ("p2p", None) or ("sfu", room).
Target = tuple[str, str | None]


@dataclass(eq=False)
class Leg:
    """One way of reaching the others, and what has come through it."""

    mode: Literal["p2p", "sfu"]
    room: str | None
    transport: PeerMesh | SfuConnection | None = None
    #: The remote tracks that arrived through this leg: session → kind → track.
    tracks: dict[str, dict[str, MediaStreamTrack]] = field(default_factory=dict)
    #: (session, kind) whose frames have arrived through this leg.
    flowing: set[tuple[str, str]] = field(default_factory=set)
    failed: bool = False
    #: Its close, once begun (every caller waits for the same one).
    closing: asyncio.Future[None] | None = None
    #: Set whenever something first arrives through it (or it fails).
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def target(self) -> Target:
        return (self.mode, self.room if self.mode == "sfu" else None)

    def carries(
        self, participants: Collection[Participant], visible: Collection[str] | None
    ) -> bool:
        """Whether sound arrived through this leg from everyone who sends sound, and
        pictures from everyone who sends one we want (``visible``; None: everyone's)."""
        for participant in participants:
            if participant.is_local:
                continue
            sid = participant.session_id
            if (
                participant.published.get("audio") is not False
                and (sid, "audio") not in self.flowing
            ):
                return False
            wanted = visible is None or sid in visible
            if participant.published.get("video") and wanted and (sid, "video") not in self.flowing:
                return False
        return True

    async def until_carries(self, carried: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``carried()`` holds or this leg fails, at most ``seconds``; whether
        it was carried (rather than timed out or failed)."""
        deadline = time.monotonic() + seconds
        while not self.failed and not carried():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), min(remaining, 0.5))
        return not self.failed

    async def close(self) -> None:
        """Close the leg's connections; a second call waits for the first one's close (a
        connection left half-closed keeps aiortc's decoder threads), at most
        :data:`CLOSE_SECONDS`."""
        if self.closing is None:
            self.closing = asyncio.ensure_future(self._close_transport())
        try:
            await asyncio.wait_for(asyncio.shield(self.closing), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("media connections still closing after %s s", CLOSE_SECONDS)

    async def _close_transport(self) -> None:
        if self.transport is not None:
            try:
                await self.transport.close()
            except Exception as error:  # closing a broken connection
                log.info("closing media: %s", error)
