"""TURN credentials minted per join (``coordinator/turn.py``): the settings' checks, what a
join answer carries, and — the test that matters — a real coturn configured with
``use-auth-secret`` granting a relay for a minted credential and refusing an expired one,
one from another secret, or one whose user was changed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint

from desktop_app.coordinator.config import CoordinatorConfig, resolve_config
from desktop_app.coordinator.turn import (
    TurnConfigError,
    TurnSettings,
    ice_servers_for,
    turn_credential,
    turn_settings,
)
from tests.support import coturn
from tests.support.coordinator import running, unique

SECRET = "turn-secret-for-tests"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urls", "secret", "ttl", "sentence"),
    [
        (["turn:example.org"], None, None, "need the secret"),
        ([], "s", None, "no turn: URL"),
        (["http://example.org"], "s", None, "is not a STUN or TURN URL"),
        (["turn:example.org?transport=sctp"], "s", None, "is not a STUN or TURN URL"),
        (["stun:example.org?transport=tcp"], "s", None, "takes no transport"),
        (["turn:example.org:70000"], "s", None, "between 1 and 65535"),
        (["turn:example.org"], "s", 5, "at least 60 seconds"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_a_sentence(
    urls: list[str], secret: str | None, ttl: int | None, sentence: str
) -> None:
    with pytest.raises(TurnConfigError, match=sentence):
        turn_settings(urls, secret, ttl)


def test_a_join_gets_turn_with_a_credential_and_stun_without() -> None:
    settings = turn_settings(
        ["turn:relay.example.org:3478", "turns:relay.example.org:5349", "stun:relay.example.org"],
        SECRET,
        3600,
    )
    turn, stun_server = ice_servers_for(settings, "alice", NOW)
    assert turn.urls == ["turn:relay.example.org:3478", "turns:relay.example.org:5349"]
    assert turn.username == f"{int(NOW.timestamp()) + 3600}:alice"
    assert (turn.username, turn.credential) == turn_credential(
        SECRET, "alice", int(NOW.timestamp()) + 3600
    )
    assert stun_server.urls == ["stun:relay.example.org"] and stun_server.username is None
    # A call with a longer duration limit keeps its relay for the whole call.
    (longer, _) = ice_servers_for(settings, "alice", NOW, call_limit_seconds=7200)
    assert longer.username == f"{int(NOW.timestamp()) + 7200}:alice"
    assert ice_servers_for(TurnSettings(), "alice", NOW) == []


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARLEY_TURN_URLS", "turn:env.example.org, stun:env.example.org")
    monkeypatch.setenv("PARLEY_TURN_SECRET", "from-env")
    monkeypatch.setenv("PARLEY_TURN_TTL", "600")
    monkeypatch.setenv("PARLEY_SECRET", "x")
    from_env = resolve_config(data_dir=tmp_path).turn
    assert from_env.urls == ("turn:env.example.org", "stun:env.example.org")
    assert (from_env.secret, from_env.ttl_seconds) == ("from-env", 600)
    flagged = resolve_config(
        data_dir=tmp_path, turn_urls=["turn:flag.example.org"], turn_secret="f", turn_ttl=90
    )
    assert flagged.turn == TurnSettings(("turn:flag.example.org",), "f", 90)
    monkeypatch.setenv("PARLEY_TURN_TTL", "soon")
    with pytest.raises(TurnConfigError, match="whole number of seconds"):
        resolve_config(data_dir=tmp_path)


def test_the_command_line_refuses_a_bad_turn_url_with_a_sentence() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "desktop_app.coordinator", "serve", "--port", "0"),
            *("--secret", "x", "--turn-url", "turn:", "--turn-secret", "s"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "is not a STUN or TURN URL" in done.stderr and "Traceback" not in done.stderr


async def test_the_join_answer_carries_minted_and_static_servers(
    config: CoordinatorConfig,
) -> None:
    turned = replace(config, turn=turn_settings(["turn:relay.example.org"], SECRET, 3600))
    async with running(turned) as coordinator:
        admin = coordinator.api()
        static = {"urls": ["stun:static.example.org"], "username": None, "credential": None}
        status, _ = await admin.patch("/v1/app", {"ice_servers": [static]})
        assert status == 200
        socket = await coordinator.ws("alice")
        before = int(time.time())
        status, body = await coordinator.api("alice").post(
            f"/v1/calls/default/{unique()}/join",
            {"create": True},
            params={"connection_id": socket.connection_id},
        )
        assert status == 201, body
        minted, kept = body["media"]["ice_servers"]
        expiry, user = minted["username"].split(":")
        assert user == "alice" and before + 3600 <= int(expiry) <= int(time.time()) + 3600
        assert (minted["username"], minted["credential"]) == turn_credential(
            SECRET, "alice", int(expiry)
        )
        assert kept == static
        await socket.close()


async def _allocate(server: coturn.TurnServer, username: str, password: str) -> tuple[str, int]:
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, (server.host, server.port), username, password
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info("sockname")
        return relayed
    finally:
        transport.close()


@pytest.mark.skipif(not coturn.available(), reason="needs Debian's coturn")
async def test_coturn_relays_for_a_minted_credential_and_refuses_bad_ones() -> None:
    with coturn.coturn(SECRET) as server:
        now = datetime.now(UTC)
        (turn,) = ice_servers_for(turn_settings([server.url], SECRET, 600), "alice", now)
        assert turn.username and turn.credential
        host, port = await _allocate(server, turn.username, turn.credential)
        assert host == server.host and port > 0

        expired, password = turn_credential(SECRET, "alice", int(time.time()) - 10)
        other_secret = turn_credential("another-secret", "alice", int(time.time()) + 600)
        changed_user = turn.username.replace(":alice", ":mallory")
        for username, credential in [
            (expired, password),
            other_secret,
            (changed_user, turn.credential),
        ]:
            with pytest.raises(stun.TransactionFailed) as refused:
                await _allocate(server, username, credential)
            assert "401" in str(refused.value)
        assert server.allocations() == 1
