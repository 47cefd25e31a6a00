"""media_rooms.py's rules without a server: when a call wants the SFU, in which order
servers are tried, what a placement stores and shows, and the Janus settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from desktop_app.coordinator.cli import main
from desktop_app.coordinator.config import ConfigError, janus_servers, resolve_config
from desktop_app.coordinator.janus_admin import JanusAdmin, JanusDown, JanusRefused, JanusSlow
from desktop_app.coordinator.media_rooms import (
    DOWN_SECONDS,
    ROTATE_AGAIN_SECONDS,
    ROTATE_TRIES,
    SLOW_SECONDS,
    Credentials,
    MediaRooms,
    Placed,
    Placement,
    ServerHealth,
    Upkeep,
    servers_of,
    session_media,
    wants_sfu,
)
from desktop_app.coordinator.problems import ApiError
from desktop_app.coordinator.store.rows import SessionRow
from desktop_app.protocol import ErrorCode
from desktop_app.protocol.app import AppSettings
from desktop_app.protocol.calls import feed_commitment

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
A, B, C = "ws://a:8188", "ws://b:8188", "ws://c:8188"


def test_a_call_wants_the_sfu_from_three_people_and_stays_there() -> None:
    room = Placement("sfu", A, "r1", "s")
    assert not wants_sfu(None, 2, [A])
    assert wants_sfu(None, 3, [A])
    assert wants_sfu(room, 2, [A])  # until the coordinator turns it back, after a while
    assert not wants_sfu(Placement("p2p", A, "r1", "s"), 2, [A])
    assert not wants_sfu(None, 8, [])  # no server: the mesh limit stands


def test_servers_are_tried_current_first_then_by_load_and_down_ones_not_at_all() -> None:
    health = ServerHealth({})
    load = {A: 2, B: 0, C: 1}
    assert health.order([A, B, C], load, NOW, None) == [B, C, A]
    assert health.order([A, B, C], load, NOW, A) == [A, B, C], "a call stays on its server"
    health.mark_down(B, NOW)
    assert health.order([A, B, C], load, NOW, None) == [C, A]
    later = NOW + timedelta(seconds=DOWN_SECONDS + 1)
    assert health.order([A, B, C], load, later, None) == [B, C, A]


def test_a_placement_keeps_its_secret_and_shows_only_mode_and_room() -> None:
    placement = Placement("sfu", A, "r1", "secret")
    assert Placement.of(placement.stored()) == placement
    assert Placement.of(None) is None and Placement.of({}) is None
    shown = session_media(placement.stored(), ["p1", "p2"])
    assert shown.model_dump() == {
        "mode": "sfu",
        "room": "r1",
        "feeds": {p: feed_commitment(placement.feed(p)) for p in ("p1", "p2")},
    }
    assert session_media(Placement("p2p", A, "r1", "s").stored(), ["p1"]).feeds == {}
    assert session_media(None, []).room is None
    # Tokens and publisher ids: one per participant session, the same when recomputed,
    # unguessable otherwise, and neither is the other nor the (public) session id.
    assert placement.token("p1") == placement.token("p1") != placement.token("p2")
    assert Placement("sfu", A, "r1", "other").token("p1") != placement.token("p1")
    assert placement.feed("p1") == placement.feed("p1") != placement.feed("p2")
    assert placement.feed("p1") not in (placement.token("p1"), "p1")
    assert Placement("sfu", A, "r1", "other").feed("p1") != placement.feed("p1")


def test_the_app_setting_s_server_joins_the_configured_ones() -> None:
    assert servers_of([A, B, A], AppSettings(janus_url=C)) == [A, B, C]
    assert servers_of([A], AppSettings(janus_url=A)) == [A]
    assert servers_of([], AppSettings()) == []


def test_janus_settings_from_flags_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    assert janus_servers([" ws://a:8188 ", "", "wss://b/janus", "ws://a:8188"]) == [
        "ws://a:8188",
        "wss://b/janus",
    ]
    with pytest.raises(ConfigError, match="ws:// or wss://"):
        janus_servers(["http://a:8088/janus"])
    monkeypatch.setenv("PARLEY_JANUS_URLS", "ws://x:8188,ws://y:8188")
    monkeypatch.setenv("PARLEY_JANUS_ADMIN_KEY", "k")
    monkeypatch.setenv("PARLEY_SECRET", "s" * 40)
    config = resolve_config()
    assert config.janus_urls == ["ws://x:8188", "ws://y:8188"]
    assert config.janus_admin_key == "k"
    assert resolve_config(janus_urls=["ws://z:1"]).janus_urls == ["ws://z:1"]


def test_the_command_line_refuses_a_janus_url_that_cannot_work(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_SECRET", "s" * 40)
    assert main(["serve", "--janus", "janus.example.org:8188"]) == 2
    assert "ws:// or wss://" in capsys.readouterr().err


class FakeJanus(JanusAdmin):
    """Janus servers as the coordinator sees them: which answer, which rooms each holds.
    (The real ones are in tests/sfu; here the rules of placement are under test.)"""

    def __init__(self, up: set[str]) -> None:
        super().__init__("key", seconds=0.05)
        self.up = up
        #: Servers that take the connection and answer too late, this many more times.
        self.slow: dict[str, int] = {}
        self.rooms: dict[str, set[str]] = {}
        self.tokens: dict[str, list[str]] = {}
        self.calls: list[tuple[str, str]] = []

    def _check(self, url: str, what: str, room: str = "") -> None:
        self.calls.append((what, url))
        if url not in self.up:
            raise JanusDown(url)
        if self.slow.get(url, 0) > 0:
            self.slow[url] -= 1
            if what == "create":  # made, but the answer came too late
                self.rooms.setdefault(url, set()).add(room)
            raise JanusSlow(url)

    async def create_room(
        self, url: str, room: str, secret: str, tokens: list[str], publishers: int
    ) -> None:
        self._check(url, "create", room)
        self.rooms.setdefault(url, set()).add(room)
        self.tokens[room] = tokens

    async def allow(self, url: str, room: str, secret: str, tokens: list[str]) -> None:
        self._check(url, "allow")
        if room not in self.rooms.get(url, set()):
            raise JanusRefused(426, "No such room")

    async def destroy_room(self, url: str, room: str, secret: str) -> None:
        self._check(url, "destroy")
        self.rooms.get(url, set()).discard(room)


class FakeRepo:
    def __init__(self, sessions: list[SessionRow]) -> None:
        self.sessions = sessions

    async def sessions_in_progress(self) -> list[SessionRow]:
        return self.sessions

    async def update_session(self, session_id: str, values: dict[str, object]) -> None:
        pass


def _session(sid: str, placement: Placement | None = None) -> SessionRow:
    return SessionRow(
        id=sid, call_cid="default:x", created_at=NOW, started_at=NOW,
        media=placement.stored() if placement else None,
    )  # fmt: skip


async def _credentials(
    rooms: MediaRooms, repo: FakeRepo, session: SessionRow, count: int, mesh: int = 4
) -> tuple[Credentials, Placed]:
    return await rooms.credentials(
        repo,  # type: ignore[arg-type]
        session, "p1", count, mesh, AppSettings(), NOW,
    )  # fmt: skip


async def test_a_call_stays_on_its_server_even_when_another_is_emptier() -> None:
    janus = FakeJanus({A, B})
    rooms = MediaRooms(janus, [A, B])
    busy = [_session(f"s{i}", Placement("sfu", A, f"r{i}", "s")) for i in range(3)]
    session = _session("mine")
    credentials, placed = await _credentials(rooms, FakeRepo(busy), session, 3)
    assert credentials.server is not None and credentials.server.url == B  # the emptier
    assert placed.changed and placed.made is not None and placed.left is None
    # Later, B is the busy one: the call stays where it is.
    crowd = [_session(f"t{i}", Placement("sfu", B, f"q{i}", "s")) for i in range(5)]
    again, placed = await _credentials(rooms, FakeRepo(crowd), session, 4)
    assert again.server is not None and again.server.url == B
    assert again.server.room == credentials.server.room and not placed.changed


async def test_a_dead_server_is_left_and_not_tried_again_while_marked_down() -> None:
    janus = FakeJanus({A, B})
    rooms = MediaRooms(janus, [A, B])
    session = _session("mine")
    first, _ = await _credentials(rooms, FakeRepo([]), session, 3)
    assert first.server is not None and first.server.url == A
    janus.up = {B}
    moved, placed = await _credentials(rooms, FakeRepo([]), session, 3)
    assert moved.server is not None and moved.server.url == B
    assert placed.changed and placed.left is not None and placed.left.server == A
    janus.calls.clear()
    other = _session("other")
    await _credentials(rooms, FakeRepo([]), other, 3)
    assert ("create", A) not in janus.calls and ("allow", A) not in janus.calls


async def test_a_restarted_server_gets_a_new_room_and_stays_in_use() -> None:
    janus = FakeJanus({A})
    rooms = MediaRooms(janus, [A])
    session = _session("mine")
    first, _ = await _credentials(rooms, FakeRepo([]), session, 3)
    janus.rooms.clear()  # Janus restarted: its rooms are gone
    again, placed = await _credentials(rooms, FakeRepo([]), session, 3)
    assert again.server is not None and first.server is not None
    assert again.server.url == A and again.server.room != first.server.room
    assert placed.changed and not rooms.health.down(A, NOW)


async def test_without_any_server_a_small_call_stays_peer_to_peer_and_a_big_one_is_refused() -> (
    None
):
    janus = FakeJanus(set())
    rooms = MediaRooms(janus, [A])
    small, _ = await _credentials(rooms, FakeRepo([]), _session("s"), 3, mesh=4)
    assert small.mode == "p2p"
    with pytest.raises(ApiError) as refused:
        await _credentials(rooms, FakeRepo([]), _session("b"), 5, mesh=4)
    assert refused.value.code is ErrorCode.CALL_FULL
    assert "media server" in refused.value.detail


async def test_someone_leaving_moves_the_others_to_a_fresh_room_and_the_old_one_retires() -> None:
    janus = FakeJanus({A, B})
    rooms = MediaRooms(janus, [A, B], rotate_grace_seconds=12.0)
    old = Placement("sfu", A, "r1", "s")
    janus.rooms[A] = {"r1"}
    session = _session("mine", old)
    repo = FakeRepo([])
    assert rooms.mark_left(session, ["dave"])
    staying = {"p1": "alice", "p2": "bob"}
    placed = await rooms.rotate(repo, session, staying, NOW)  # type: ignore[arg-type]
    fresh = Placement.of(session.media)
    assert placed.changed and placed.made == fresh
    assert fresh is not None and fresh.server == A, "the call stays on its server"
    assert fresh.room != old.room and fresh.secret != old.secret
    assert janus.tokens[fresh.room] == [fresh.token("p1"), fresh.token("p2")], "only those staying"
    assert fresh.feed("p1") != old.feed("p1"), "new publisher ids in the new room"
    # The old room retires: stored with its time, destroyed when that comes.
    upkeep = Upkeep.of(session.media)
    assert upkeep.left == () and upkeep.retiring == ((old, NOW + timedelta(seconds=12)),)
    assert rooms.rooms_of(session) == [fresh, old], "a leaver is kicked from both"
    assert rooms.retire_due(session, NOW + timedelta(seconds=11)) == []
    assert rooms.retire_due(session, NOW + timedelta(seconds=12)) == [old]
    assert Upkeep.of(session.media).retiring == () and Placement.of(session.media) == fresh


async def test_no_fresh_room_for_a_rejoin_nor_on_a_server_that_fails() -> None:
    janus = FakeJanus({A})
    rooms = MediaRooms(janus, [A])
    repo = FakeRepo([])
    room = Placement("sfu", A, "r1", "s")
    # Bob's client rejoined: a new session of the same person — nothing to hide from him.
    rejoined = _session("rejoined", room)
    rooms.mark_left(rejoined, ["bob"])
    placed = await rooms.rotate(repo, rejoined, {"p1": "alice", "p9": "bob"}, NOW)  # type: ignore[arg-type]
    assert not placed.changed and Placement.of(rejoined.media) == room
    assert Upkeep.of(rejoined.media).left == ()
    # The server fails: the session stays (its clients will find the server gone).
    janus.up = set()
    failing = _session("failing", room)
    rooms.mark_left(failing, ["dave"])
    placed = await rooms.rotate(repo, failing, {"p1": "alice", "p2": "bob"}, NOW)  # type: ignore[arg-type]
    assert not placed.changed and Placement.of(failing.media) == room
    assert rooms.health.down(A, NOW)


async def test_one_left_alone_goes_peer_to_peer_and_the_room_retires() -> None:
    rooms = MediaRooms(FakeJanus({A}), [A], rotate_grace_seconds=12.0)
    room = Placement("sfu", A, "r1", "s")
    alone = _session("alone", room)
    rooms.mark_left(alone, ["bob", "carol"])
    placed = await rooms.rotate(FakeRepo([]), alone, {"p1": "alice"}, NOW)  # type: ignore[arg-type]
    assert placed.changed and placed.made is None
    assert session_media(alone.media, ["p1"]).mode == "p2p"
    assert rooms.rooms_of(alone) == [room]


def test_back_to_peer_to_peer_retires_the_room() -> None:
    rooms = MediaRooms(FakeJanus({A}), [A], rotate_grace_seconds=12.0)
    room = Placement("sfu", A, "r1", "s")
    session = _session("mine", room)
    assert rooms.back_to_p2p(session, NOW)
    assert session_media(session.media, ["p1"]).mode == "p2p"
    assert Upkeep.of(session.media).retiring == ((room, NOW + timedelta(seconds=12)),)
    assert not rooms.back_to_p2p(session, NOW)


async def test_a_slow_server_is_tried_last_for_new_rooms_never_passed_over_as_dead() -> None:
    """A busy machine's Janus that answers after the operation's time is alive: the
    join that met it goes on elsewhere, new rooms go to the others first for a while,
    and the room it may have made late is destroyed once its create had its time."""
    janus = FakeJanus({A, B})
    rooms = MediaRooms(janus, [A, B])
    session = _session("mine")
    first, _ = await _credentials(rooms, FakeRepo([]), session, 3)
    assert first.server is not None and first.server.url == A
    janus.slow[A] = 1
    moved, placed = await _credentials(rooms, FakeRepo([]), session, 4)
    assert moved.server is not None and moved.server.url == B and placed.changed
    assert not rooms.health.down(A, NOW) and rooms.health.slow(A, NOW)
    janus.calls.clear()
    late, _ = await _credentials(rooms, FakeRepo([]), _session("late"), 3)
    assert late.server is not None and late.server.url == B, "the slow one after the others"
    assert ("create", A) not in janus.calls, "not even tried while the others answer"
    rooms.health.slow_until.clear()
    made = await _credentials(rooms, FakeRepo([]), _session("slow-create"), 3)
    assert made[0].server is not None and made[0].server.url == A
    janus.slow[A] = 1
    before = set(janus.rooms[A])
    fallback, _ = await _credentials(rooms, FakeRepo([]), _session("fallback"), 3)
    assert fallback.server is not None and fallback.server.url == B
    assert len(janus.rooms[A]) == len(before) + 1, "made, but answered too late"
    await asyncio.sleep(janus.seconds + 0.1)
    assert janus.rooms[A] == before, "the late room destroyed once its create had its time"
    assert rooms.health.slow(A, NOW + timedelta(seconds=SLOW_SECONDS - 1))
    assert not rooms.health.slow(A, NOW + timedelta(seconds=SLOW_SECONDS))


async def test_a_fresh_room_a_slow_server_did_not_make_in_time_is_tried_again_three_times() -> None:
    janus = FakeJanus({A})
    rooms = MediaRooms(janus, [A])
    room = Placement("sfu", A, "r1", "s")
    janus.rooms[A] = {"r1"}
    session = _session("slow", room)
    rooms.mark_left(session, ["dave"])
    staying = {"p1": "alice", "p2": "bob"}
    waits = []
    for _ in range(ROTATE_TRIES - 1):
        janus.slow[A] = 1
        placed = await rooms.rotate(FakeRepo([]), session, staying, NOW)  # type: ignore[arg-type]
        assert placed.again is not None and not placed.changed and placed.made is None
        waits.append(placed.again)
        assert Placement.of(session.media) == room and Upkeep.of(session.media).left == ("dave",)
    assert waits == [ROTATE_AGAIN_SECONDS * n for n in range(1, ROTATE_TRIES)], "growing"
    assert not rooms.health.down(A, NOW)
    await asyncio.sleep(janus.seconds + 0.1)
    assert janus.rooms[A] == {"r1"}, "rooms it made late are destroyed"
    janus.slow[A] = 1  # the last try: the session stays where it is
    placed = await rooms.rotate(FakeRepo([]), session, staying, NOW)  # type: ignore[arg-type]
    assert placed.again is None and not placed.changed
    assert Placement.of(session.media) == room and Upkeep.of(session.media) == Upkeep()
    # Next time someone leaves, it is tried afresh (and this time it answers).
    rooms.mark_left(session, ["eve"])
    placed = await rooms.rotate(FakeRepo([]), session, staying, NOW)  # type: ignore[arg-type]
    assert placed.changed and placed.again is None and Upkeep.of(session.media).left == ()
