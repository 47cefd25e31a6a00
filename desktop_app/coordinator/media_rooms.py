"""Where a call session's media travels: peer to peer, or through a Janus room.

* **When.** With Janus servers configured (``--janus``, ``PARLEY_JANUS_URLS``, or the
  ``janus_url`` app setting), a session moves to the SFU when its third participant
  joins, and stays there while three or more are in it. Back at two it returns to
  peer to peer after :data:`BACK_TO_P2P_SECONDS` (a person who drops and rejoins does not
  make everyone switch twice), and its room goes. Without Janus, the mesh limit stands.
* **Which server.** A session stays on its server while it is in a room. A new room goes to the server with
  the fewest sessions in progress, among those not marked down.
* **Rooms, tokens and publisher ids.** One private room per placement, made with the
  admin key, with a random secret only the coordinator knows. Each participant session's
  token is ``HMAC(secret, session id)`` and its publisher id (*feed*) another HMAC of it:
  issued with its media credentials and recomputed when needed, so nothing per
  participant is stored. The others learn a feed only by its commitment
  (:func:`~desktop_app.protocol.calls.feed_commitment`, in ``media.feeds``): no one can
  take a participant's id in the room before the participant does.
* **Someone leaves: a fresh room.** Janus's ``kick`` ends a publisher but not its
  subscriptions, so a client that left the call but kept its Janus connection would go
  on receiving. The leaver's publisher is kicked at once, and shortly after the others
  move to a fresh room on the same server (:meth:`MediaRooms.rotate`; the timers, and
  the exception for a client that rejoins, are :mod:`.room_upkeep`'s); the old room is
  destroyed :data:`ROTATE_GRACE_SECONDS` later, once the clients switched (make before
  break). A session back at two returns to peer to peer after
  :data:`BACK_TO_P2P_SECONDS`, and its room retires the same way.
* **A server that fails.** An operation that cannot reach a server (or that it refuses)
  marks it down for :data:`DOWN_SECONDS`: nothing is tried on it meanwhile, and the
  session moves to another server — a new room, announced in the session's
  ``media.room``; clients whose Janus connection broke rejoin and get credentials for it.
  A server that lost the room (restarted) gets a new one. A room made in a transaction
  that does not commit is destroyed; so is the one a session moved away from.
  A server that took the connection but answered too late (:class:`JanusSlow`: a busy
  machine) is *not* marked down — passing a live server over for 30 s moves every call
  that joins it meanwhile — but *slow* for :data:`SLOW_SECONDS`: new rooms go to the
  others first, and calls on it stay. A fresh room it was too slow to make is tried
  again after :data:`ROTATE_AGAIN_SECONDS` (then twice that), at most
  :data:`ROTATE_TRIES` times in all, then the session stays where it is; a room it may
  have made late is destroyed a moment later (its create may still be on its way).

The storage form (``call_sessions.media``) is :class:`Placement`. Janus I/O runs inside the
caller's transaction (a few round trips on the media network), so two joins cannot make
two rooms for one session.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.app import AppSettings
from desktop_app.protocol.calls import (
    MediaMode,
    MediaServerInfo,
    SessionMediaResponse,
    feed_commitment,
)

from .janus_admin import NO_SUCH_ROOM, JanusAdmin, JanusDown, JanusRefused, JanusSlow
from .problems import ApiError
from .store import Repository
from .store.rows import SessionRow

log = logging.getLogger(__name__)

#: A session moves to the SFU when this many participants are in it.
SFU_FROM = 3
#: How long a session back at two waits before it returns to peer to peer.
BACK_TO_P2P_SECONDS = 10.0
#: How long a server that failed is passed over for new rooms.
DOWN_SECONDS = 30.0
#: How long a room a session moved away from lives on: its clients switch make before
#: break (the SDK waits up to 6 s for everyone's media on the new path, then lets the old
#: one linger 3 s).
ROTATE_GRACE_SECONDS = 12.0
#: How long a server that answered too late is tried after the others for new rooms.
SLOW_SECONDS = 30.0
#: When a fresh room was not made in time on a slow server, how long until the next try
#: (growing with each), and how many tries in all.
ROTATE_AGAIN_SECONDS = 3.0
ROTATE_TRIES = 3
#: Publishers a room takes (a call's ``max_participants`` is checked by the coordinator).
ROOM_PUBLISHERS = 100


@dataclass(frozen=True)
class Placement:
    mode: Literal["p2p", "sfu"]
    server: str
    room: str
    secret: str

    def stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Placement | None:
        if not stored or not stored.get("room"):
            return None
        mode: Literal["p2p", "sfu"] = "sfu" if stored.get("mode") == "sfu" else "p2p"
        return cls(mode, str(stored["server"]), str(stored["room"]), str(stored["secret"]))

    @classmethod
    def fresh(cls, server: str) -> Placement:
        return cls("sfu", server, secrets.token_hex(12), secrets.token_urlsafe(24))

    def token(self, participant_session_id: str) -> str:
        return self._mac(participant_session_id)

    def feed(self, participant_session_id: str) -> str:
        """The participant session's publisher id in this room."""
        return self._mac("feed:" + participant_session_id)[:22]

    def _mac(self, text: str) -> str:
        digest = hmac.new(self.secret.encode(), text.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def session_media(
    stored: Mapping[str, Any] | None, participant_session_ids: Iterable[str]
) -> SessionMediaResponse:
    """What everyone may know of a placement: the mode, and in sfu mode the room and the
    commitments of the participants' publisher ids."""
    placement = Placement.of(stored)
    if placement is None or placement.mode == "p2p":
        return SessionMediaResponse()
    feeds = {p: feed_commitment(placement.feed(p)) for p in participant_session_ids}
    return SessionMediaResponse(mode="sfu", room=placement.room, feeds=feeds)


@dataclass(frozen=True)
class Upkeep:
    """What ``call_sessions.media`` holds besides the placement: the users who left the
    room since it was made (a fresh room is due, unless they come back at once), and
    the rooms being retired — each destroyed once its clients had time to move."""

    left: tuple[str, ...] = ()
    retiring: tuple[tuple[Placement, datetime], ...] = ()
    #: Fresh rooms a slow server did not make in time, for the ``left`` due now.
    tries: int = 0

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Upkeep:
        if not stored:
            return cls()
        retiring = []
        for room in stored.get("retiring", []) or []:
            placement = Placement.of(room)
            if placement is not None:
                retiring.append((placement, datetime.fromisoformat(str(room["until"]))))
        tries = stored.get("tries", 0)
        return cls(
            tuple(str(u) for u in stored.get("left", []) or []),
            tuple(retiring),
            tries if isinstance(tries, int) else 0,
        )

    def retire(self, placement: Placement, until: datetime) -> Upkeep:
        return replace(self, retiring=(*self.retiring, (placement, until)))

    def due(self, now: datetime) -> list[Placement]:
        return [placement for placement, until in self.retiring if until <= now]

    def next_due(self) -> datetime | None:
        return min((until for _, until in self.retiring), default=None)


def stored(placement: Placement | None, upkeep: Upkeep) -> dict[str, Any]:
    """The storage form of a session's media."""
    media: dict[str, Any] = placement.stored() if placement is not None else {}
    if upkeep.left:
        media["left"] = list(upkeep.left)
    if upkeep.tries:
        media["tries"] = upkeep.tries
    if upkeep.retiring:
        media["retiring"] = [
            {**room.stored(), "until": until.isoformat()} for room, until in upkeep.retiring
        ]
    return media


def servers_of(configured: list[str], app: AppSettings) -> list[str]:
    """The configured servers, then the app setting's (once)."""
    urls = list(dict.fromkeys(configured))
    if app.janus_url and app.janus_url not in urls:
        urls.append(app.janus_url)
    return urls


def wants_sfu(placement: Placement | None, participants: int, servers: list[str]) -> bool:
    if not servers:
        return False
    return (placement is not None and placement.mode == "sfu") or participants >= SFU_FROM


@dataclass
class ServerHealth:
    """Which servers failed lately, and the order in which to try servers for a room."""

    down_until: dict[str, datetime]
    slow_until: dict[str, datetime] = field(default_factory=dict)

    def mark_down(self, url: str, now: datetime) -> None:
        self.down_until[url] = now + timedelta(seconds=DOWN_SECONDS)

    def down(self, url: str, now: datetime) -> bool:
        return self.down_until.get(url, now) > now

    def mark_slow(self, url: str, now: datetime) -> None:
        self.slow_until[url] = now + timedelta(seconds=SLOW_SECONDS)

    def slow(self, url: str, now: datetime) -> bool:
        return self.slow_until.get(url, now) > now

    def order(
        self, servers: list[str], load: Mapping[str, int], now: datetime, current: str | None
    ) -> list[str]:
        """The servers to try, in order: the one the call is on, then the others by load
        (fewest sessions first), those that answered too late lately last; none that
        failed lately — a server down is passed over until its mark expires, so a request
        never waits on a dead one twice."""

        def key(url: str) -> tuple[bool, bool, int, int]:
            return (url != current, self.slow(url, now), load.get(url, 0), servers.index(url))

        return sorted((url for url in servers if not self.down(url, now)), key=key)


@dataclass(frozen=True)
class Credentials:
    mode: MediaMode
    server: MediaServerInfo | None = None


@dataclass
class Placed:
    """What placing a session did: whether its placement changed (announce it), the room
    it made (destroy it if the transaction does not commit) and the one it left (destroy
    it after the commit)."""

    changed: bool = False
    made: Placement | None = None
    left: Placement | None = None
    #: A fresh room is still due (its server was slow): try again this many seconds later.
    again: float | None = None


class MediaRooms:
    def __init__(
        self,
        admin: JanusAdmin,
        configured: list[str],
        back_to_p2p_seconds: float = BACK_TO_P2P_SECONDS,
        rotate_grace_seconds: float = ROTATE_GRACE_SECONDS,
    ) -> None:
        self.admin = admin
        self.configured = configured
        self.back_to_p2p_seconds = back_to_p2p_seconds
        self.rotate_grace_seconds = rotate_grace_seconds
        self.health = ServerHealth({})
        self._tasks: set[asyncio.Future[Any]] = set()

    def servers(self, app: AppSettings) -> list[str]:
        return servers_of(self.configured, app)

    async def credentials(
        self,
        repo: Repository,
        session: SessionRow,
        participant_session_id: str,
        participants: int,
        mesh_limit: int,
        app: AppSettings,
        now: datetime,
    ) -> tuple[Credentials, Placed]:
        """How ``participant_session_id`` reaches the others now, placing the session in a
        room when it needs one (see :class:`Placed`). Raises ``call_full`` when the call is
        too big for a mesh and no media server answers."""
        servers = self.servers(app)
        placement = Placement.of(session.media)
        placed = Placed()
        if not wants_sfu(placement, participants, servers):
            return Credentials("p2p"), placed
        load = await self._load(repo, session.id)
        current = placement.server if placement is not None else None
        for url in self.health.order(servers, load, now, current):
            try:
                chosen, made = await self._room_on(url, placement, participant_session_id)
            except (JanusDown, JanusRefused) as failure:
                self._failed(url, failure, now)
                continue
            if made:
                placed.made = chosen
                placed.left = placement  # on a server that failed: best effort
            placed.changed = made or placement is None or placement.mode != "sfu"
            if placed.changed:
                session.media = stored(chosen, Upkeep.of(session.media))
                await repo.update_session(session.id, {"media": session.media})
            info = MediaServerInfo(
                url=chosen.server,
                room=chosen.room,
                token=chosen.token(participant_session_id),
                feed=chosen.feed(participant_session_id),
            )
            return Credentials("sfu", info), placed
        if participants <= mesh_limit:
            log.warning("no media server answers: session %s stays peer to peer", session.id)
            if placement is not None and placement.mode == "sfu":
                # Its server does not answer: the room goes (best effort), a next third
                # person gets a fresh one.
                session.media = stored(None, replace(Upkeep.of(session.media), left=(), tries=0))
                await repo.update_session(session.id, {"media": session.media})
                placed.changed, placed.left = True, placement
            return Credentials("p2p"), placed
        raise ApiError(
            ErrorCode.CALL_FULL,
            f"A call of more than {mesh_limit} people needs the media server, and it cannot "
            "be reached right now. Try again in a minute.",
        )

    def back_to_p2p(self, session: SessionRow, now: datetime) -> bool:
        """Mark a session peer to peer again, its room retiring; whether it changed."""
        placement = Placement.of(session.media)
        if placement is None or placement.mode != "sfu":
            return False
        upkeep = replace(Upkeep.of(session.media), left=(), tries=0)
        session.media = stored(None, upkeep.retire(placement, self._grace_from(now)))
        return True

    def mark_left(self, session: SessionRow, users: list[str]) -> bool:
        """People left the session's room: a fresh room is due (see :meth:`rotate`).
        Whether the session is in a room at all."""
        placement = Placement.of(session.media)
        if placement is None or placement.mode != "sfu":
            return False
        upkeep = Upkeep.of(session.media)
        left = tuple(dict.fromkeys((*upkeep.left, *users)))
        session.media = stored(placement, replace(upkeep, left=left))
        return True

    async def rotate(
        self, repo: Repository, session: SessionRow, staying: Mapping[str, str], now: datetime
    ) -> Placed:
        """The fresh room that is due after people left (``staying``: participant session
        id → user id of those in the session now), unless everyone who left is back (a
        client that rejoins is a new session of the same person: nothing to hide from
        them). Two or more staying: a new room on the same server with their tokens; one:
        peer to peer. The old room retires. A server that fails to make the room is
        marked down and the session stays (its clients will find the server gone); one
        that is only slow is tried again later (``Placed.again``, at most
        :data:`ROTATE_TRIES` times), then the session stays."""
        placement = Placement.of(session.media)
        upkeep = Upkeep.of(session.media)
        if placement is None or placement.mode != "sfu" or not upkeep.left:
            return Placed()
        settled = replace(upkeep, left=(), tries=0)
        back = set(upkeep.left) <= set(staying.values())
        move = not back and (len(staying) < 2 or not self.health.down(placement.server, now))
        fresh: Placement | None = None
        if move and len(staying) >= 2:
            fresh = Placement.fresh(placement.server)
            tokens = [fresh.token(p) for p in staying]
            try:
                await self.admin.create_room(
                    fresh.server, fresh.room, fresh.secret, tokens, ROOM_PUBLISHERS
                )
            except Exception as failure:  # a leave's upkeep never fails on a media server
                self._failed(fresh.server, failure, now)
                if isinstance(failure, JanusSlow):
                    self.discard(fresh, late=True)  # it may have made the room, late
                    if upkeep.tries + 1 < ROTATE_TRIES:  # who left is still due one
                        tries = upkeep.tries + 1
                        session.media = stored(placement, replace(upkeep, tries=tries))
                        await repo.update_session(session.id, {"media": session.media})
                        return Placed(again=ROTATE_AGAIN_SECONDS * tries)
                move, fresh = False, None
        if move:
            session.media = stored(fresh, settled.retire(placement, self._grace_from(now)))
        else:
            session.media = stored(placement, settled)
        await repo.update_session(session.id, {"media": session.media})
        return Placed(changed=move, made=fresh)

    def rooms_of(self, session: SessionRow) -> list[Placement]:
        """The session's room and those retiring."""
        placement = Placement.of(session.media)
        retiring = [room for room, _ in Upkeep.of(session.media).retiring]
        return ([placement] if placement is not None else []) + retiring

    def release_participant(self, session: SessionRow, participant_session_id: str) -> None:
        """After a commit: take the token back and the publisher out of each of the
        session's rooms, retiring ones too (best effort)."""
        for room in self.rooms_of(session):
            self._spawn(self._release_participant(room, participant_session_id))

    def release_room(self, session: SessionRow) -> None:
        """After a commit: the session ended (or the call went): its rooms go."""
        for room in self.rooms_of(session):
            self.discard(room)

    def retire_due(self, session: SessionRow, now: datetime) -> list[Placement]:
        """The retiring rooms whose time has come, taken off the session (destroy them
        after the commit)."""
        upkeep = Upkeep.of(session.media)
        due = upkeep.due(now)
        if due:
            kept = tuple((room, until) for room, until in upkeep.retiring if room not in due)
            session.media = stored(Placement.of(session.media), replace(upkeep, retiring=kept))
        return due

    def _grace_from(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.rotate_grace_seconds)

    def discard(self, placement: Placement | None, *, late: bool = False) -> None:
        """Destroy a room nobody will use (best effort: its server may be gone); ``late``:
        one a slow server may still be making — destroyed after its create's time, so the
        destroy does not come first."""
        if placement is not None:
            self._spawn(self._destroy(placement, self.admin.seconds if late else 0.0))

    async def _destroy(self, placement: Placement, after: float) -> None:
        await asyncio.sleep(after)
        await self.admin.destroy_room(placement.server, placement.room, placement.secret)

    # --- inside ------------------------------------------------------------------------

    def _failed(self, url: str, failure: Exception, now: datetime) -> None:
        if isinstance(failure, JanusSlow):
            log.warning("media server %s is slow (not marked down): %s", url, failure)
            self.health.mark_slow(url, now)
            return
        log.warning("media server %s failed: %s", url, failure)
        self.health.mark_down(url, now)

    async def _room_on(
        self, url: str, placement: Placement | None, participant_session_id: str
    ) -> tuple[Placement, bool]:
        """The session's room on ``url`` with this participant's token in it, and whether
        it had to be made (a first room, a move, or a server that lost its rooms)."""
        if placement is not None and placement.server == url:
            token = placement.token(participant_session_id)
            try:
                await self.admin.allow(url, placement.room, placement.secret, [token])
                return replace(placement, mode="sfu"), False
            except JanusRefused as refused:
                if refused.code != NO_SUCH_ROOM:
                    raise
                log.info("media server %s lost room %s (restarted?)", url, placement.room)
        fresh = Placement.fresh(url)
        try:
            await self.admin.create_room(
                url,
                fresh.room,
                fresh.secret,
                [fresh.token(participant_session_id)],
                ROOM_PUBLISHERS,
            )
        except JanusSlow:
            self.discard(fresh, late=True)  # it may have made the room, late
            raise
        return fresh, True

    async def _load(self, repo: Repository, session_id: str) -> dict[str, int]:
        load: dict[str, int] = {}
        for session in await repo.sessions_in_progress():
            placement = Placement.of(session.media)
            if session.id != session_id and placement is not None and placement.mode == "sfu":
                load[placement.server] = load.get(placement.server, 0) + 1
        return load

    async def _release_participant(self, placement: Placement, participant_session_id: str) -> None:
        token = placement.token(participant_session_id)
        feed = placement.feed(participant_session_id)
        await self.admin.disallow(placement.server, placement.room, placement.secret, [token])
        await self.admin.kick(placement.server, placement.room, placement.secret, feed)

    def _spawn(self, work: Any) -> None:
        task: asyncio.Future[Any] = asyncio.ensure_future(work)
        self._tasks.add(task)  # held: a task nobody references may be collected mid-run
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("media server clean-up failed: %s", task.exception())
