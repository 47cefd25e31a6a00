"""media_rooms.py's rules without a server: when a call wants the SFU, in which order
servers are tried, what a placement stores and shows, and the Janus settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desktop_app.coordinator.cli import main
from desktop_app.coordinator.config import ConfigError, janus_servers, resolve_config
from desktop_app.coordinator.media_rooms import (
    DOWN_SECONDS,
    Placement,
    ServerHealth,
    servers_of,
    session_media,
    wants_sfu,
)
from desktop_app.protocol.app import AppSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
A, B, C = "ws://a:8188", "ws://b:8188", "ws://c:8188"


def test_a_call_wants_the_sfu_from_three_people_and_stays_there() -> None:
    room = Placement("sfu", A, "r1", "s")
    assert not wants_sfu(None, 2, [A])
    assert wants_sfu(None, 3, [A])
    assert wants_sfu(room, 2, [A])  # until the coordinator turns it back, after a while
    assert not wants_sfu(Placement("p2p", A, "r1", "s"), 2, [A])
    assert not wants_sfu(None, 8, [])  # no server: the mesh limit stands


def test_servers_are_tried_by_load_and_down_ones_last() -> None:
    health = ServerHealth({})
    assert health.order([A, B, C], {A: 2, B: 0, C: 1}, NOW) == [B, C, A]
    health.mark_down(B, NOW)
    assert health.order([A, B, C], {A: 2, B: 0, C: 1}, NOW) == [C, A, B]
    later = NOW + timedelta(seconds=DOWN_SECONDS + 1)
    assert health.order([A, B, C], {A: 2, B: 0, C: 1}, later) == [B, C, A]
    assert health.order([A, B], {}, NOW + timedelta(seconds=DOWN_SECONDS + 1)) == [A, B]


def test_a_placement_keeps_its_secret_and_shows_only_mode_and_room() -> None:
    placement = Placement("sfu", A, "r1", "secret")
    assert Placement.of(placement.stored()) == placement
    assert Placement.of(None) is None and Placement.of({}) is None
    assert session_media(placement.stored()).model_dump() == {"mode": "sfu", "room": "r1"}
    assert session_media(Placement("p2p", A, "r1", "s").stored()).mode == "p2p"
    assert session_media(None).room is None
    # Tokens: one per participant session, the same when recomputed, unguessable otherwise.
    assert placement.token("p1") == placement.token("p1") != placement.token("p2")
    assert Placement("sfu", A, "r1", "other").token("p1") != placement.token("p1")


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
