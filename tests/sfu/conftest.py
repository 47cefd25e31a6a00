"""Tests through real Janus servers: each test runs inside a namespace of its own
(``MediaLan``) holding two Janus servers, an in-process coordinator pointed at both, and
the SDK clients the test connects — Janus gathers ICE candidates only on a non-loopback
interface, and a namespace of our own is the one place we may give it one."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_config
from tests.sdk.conftest import ClientFactory, connect
from tests.sfu.bots import Bot
from tests.support import janus
from tests.support.coordinator import RunningCoordinator, running

pytestmark = pytest.mark.skipif(not janus.available(), reason="needs root, ip, nft and janus")

BotFactory = Callable[..., Bot]
#: The SDK tests' client factory, against this namespace's coordinator.
__all__ = ["BotFactory", "ClientFactory", "Sfu", "connect"]
_ports = itertools.count(0)


@dataclass
class Sfu:
    lan: janus.MediaLan
    servers: list[janus.JanusServer]


@pytest.fixture
def sfu() -> Iterator[Sfu]:
    if not janus.available():
        pytest.skip("needs root, ip, nft and janus")
    with janus.MediaLan() as lan:
        base = 8188 + 10 * (next(_ports) % 50)
        with (
            lan.janus(base, "20000-22999") as first,
            lan.janus(base + 1, "23000-25999") as second,
            lan.inside(),
        ):
            yield Sfu(lan, [first, second])


@asynccontextmanager
async def sfu_coordinator(
    sfu: Sfu, tmp_path: Path, rotate_grace_seconds: float = 12.0
) -> AsyncIterator[RunningCoordinator]:
    """An in-process coordinator pointed at both servers; a call back at two returns to
    peer to peer after 2 s."""
    config = make_config(tmp_path, f"sqlite:///{tmp_path / 'sfu.sqlite3'}")
    config.janus_urls = [server.url for server in sfu.servers]
    config.janus_admin_key = janus.ADMIN_KEY
    config.sfu_back_to_p2p_seconds = 2.0
    config.sfu_rotate_grace_seconds = rotate_grace_seconds
    async with running(config) as served:
        yield served


@pytest.fixture
async def coordinator(sfu: Sfu, tmp_path: Path) -> AsyncIterator[RunningCoordinator]:
    async with sfu_coordinator(sfu, tmp_path) as served:
        yield served


@pytest.fixture
async def bots(sfu: Sfu, coordinator: RunningCoordinator) -> AsyncIterator[BotFactory]:
    """Other people as ``parley-bot`` processes in the test's namespace."""
    started: list[Bot] = []

    def start(user: str, *args: str) -> Bot:
        bot = Bot(sfu.lan, coordinator, user, *args)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()
    for bot in started:  # shown only when the test fails (pytest captures it)
        said = [line for line in bot.output.lines if "aioice" not in line]
        tail = "\n    ".join(said[-80:])
        print(f"--- {bot.user} (exit {bot.process.returncode}), last lines:\n    {tail}")
