"""Parley's own window in a call across the network harness, seen as a person sees it:
Alice runs the app behind a NAT (``tests/net/app_person.py``), Bob is a ``parley-bot`` on
another site who rings her. Faults on either side must show on her screen — bars that
drop when Bob's link loses packets, "reconnecting…" on his tile (never a frozen picture)
while his cable is out, his picture back when it returns — and her own network going for
good must end in a sentence, with her camera and microphone let go. Screenshots of each
moment land in ``build/screenshots/network/``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.net.scene import Person, Scene, Side
from tests.support import coturn, netns

pytestmark = [
    pytest.mark.skipif(not netns.available(), reason="network namespaces need root, ip, nft"),
    pytest.mark.skipif(not coturn.available(), reason="needs Debian's coturn"),
    pytest.mark.timeout(300),
]


def bobs_tile(picture: str, bars: str = r"\w+", caption: str = "none") -> Callable[[str], bool]:
    """A line of Alice's app in which Bob's tile shows this."""
    pattern = re.compile(rf"tile Bob: bars {bars}, caption {caption}, picture {picture}")
    return lambda line: pattern.search(line) is not None


@contextmanager
def call() -> Iterator[tuple[Scene, Person, Person]]:
    with Scene() as scene:
        alice = scene.person("alice", scene.site("a", Side(nat="cone")))
        bob = scene.person("bob", scene.site("b", Side(nat="cone")))
        alice.app()
        bob.bot("--ring", "alice", "--report-video", "1")
        alice.wait_for("answering")
        alice.wait_for(bobs_tile("moving", "good"))
        yield scene, alice, bob


def test_the_app_shows_bobs_loss_then_reconnecting_then_his_picture_again() -> None:
    with call() as (_, alice, bob):
        assert alice.screenshot("1-call-good").stat().st_size > 10_000
        bob.host.site.drop_share(12)
        mark = alice.mark()
        alice.wait_for(bobs_tile("moving", "(fair|poor)"), 25, mark)
        alice.screenshot("2-bob-loses-packets")
        bob.host.site.drop_share(0)

        mark = alice.mark()
        bob.host.link_down()
        down = time.monotonic()
        line = alice.wait_for(bobs_tile(r"off \(avatar\)", "none", "reconnecting…"), 10, mark)
        assert alice.when(line, mark) - down < 5, "she sees it within seconds"
        alice.screenshot("3-bob-reconnecting")
        time.sleep(max(0.0, 5.0 - (time.monotonic() - down)))
        bob.host.link_up()
        back = time.monotonic()
        mark = alice.mark()
        line = alice.wait_for(bobs_tile("moving"), 20, mark)
        assert alice.when(line, mark) - back < 8, "his picture is back within seconds"
        alice.screenshot("4-bob-back")
        assert "reconnecting-failed" not in line


def test_when_her_own_network_never_returns_the_app_says_so_and_lets_the_devices_go() -> None:
    with call() as (_, alice, _bob):
        mark = alice.mark()
        alice.host.link_down()
        alice.wait_for("banner 'Reconnecting…", 15, mark)
        alice.screenshot("5-alice-reconnecting")
        failed = alice.wait_for(
            lambda line: (
                "call reconnecting-failed" in line
                and "banner 'The connection was lost and could not be restored." in line
                and "camera off, microphone off" in line
            ),
            90,
            mark,
        )
        alice.screenshot("6-alice-gave-up")
        assert "tile Bob" not in failed or "picture moving" not in failed, failed
