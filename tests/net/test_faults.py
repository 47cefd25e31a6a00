"""A 1:1 call through real faults (``tests/support/netns.py``): Alice sits behind a NAT whose
router drops packets, caps her uplink or loses its cable; Bob is on a routed site. Both
are ``parley-bot`` processes that report, every second, the frames arriving from the
other (``--report-video 1``) and every change of the connection's quality."""

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
    pytest.mark.timeout(240),
]


@contextmanager
def call() -> Iterator[tuple[netns.Site, Person, Person]]:
    with Scene() as scene:
        alices_site = scene.site("a", Side(nat="cone"))
        alice = scene.person("alice", alices_site)
        bob = scene.person("bob", scene.site("b", Side(nat=None)))
        bob.bot("--answer", "accept", "--report-video", "1")
        alice.bot("--ring", "bob", "--report-video", "1")
        bob.wait_for("video from alice:")
        alice.wait_for("video from bob:")
        yield alices_site, alice, bob


def rates(person: Person, what: str, after: int, count: int) -> list[float]:
    """The next ``count`` reported rates of ``what`` (``video from alice``)."""
    pattern = re.compile(rf"{re.escape(what)}: ([0-9.]+) ")
    found: list[float] = []
    mark = after
    while len(found) < count:
        line = person.wait_for(lambda text: pattern.search(text) is not None, 10, mark)
        assert person.output is not None
        mark = person.output.lines.index(line, mark) + 1
        match = pattern.search(line)
        assert match is not None
        found.append(float(match[1]))
    return found


def _sending(person: Person, after: int) -> float:
    """What ``person`` sends (kbit/s), from the next report of their uplink."""
    line = person.wait_for(
        lambda text: "figures for me" in text and "kbit/s out" in text, 15, after
    )
    return float(re.search(r"([0-9.]+) kbit/s out", line)[1])  # type: ignore[index]


def _moving(user: str) -> Callable[[str], bool]:
    """A report of ``user``'s picture arriving at 10 frames a second or more."""

    def moving(line: str) -> bool:
        match = re.search(rf"video from {user}: ([0-9.]+) fps", line)
        return match is not None and float(match[1]) >= 10

    return moving


def test_five_percent_loss_both_ways_keeps_video_moving_and_audio_whole() -> None:
    with call() as (site, alice, bob):
        site.drop_share(5)  # of everything through Alice's router, both ways
        mark = bob.mark()
        level = bob.wait_for(
            lambda line: "quality of alice: fair" in line or "quality of alice: poor" in line,
            20,
            mark,
        )
        loss = float(re.search(r"loss ([0-9.]+) %", level)[1])  # type: ignore[index]
        assert 1.0 <= loss <= 15.0, level
        video = rates(bob, "video from alice", mark, 10)
        audio = rates(bob, "audio from alice", mark, 10)
        # Retransmissions and (when those are lost too) a prompt keyframe: no stall. A
        # frame whose retransmission is lost as well is given up after 0.4 s and the
        # keyframe may wait for the limiter's gap, so one second in ten may dip (seen
        # once in CI: 9 frames; locally none below 17 in 60 s) — but never a freeze.
        slow = [rate for rate in video if rate < 10]
        assert len(slow) <= 1 and min(video) >= 5 and sum(video) / len(video) >= 20, video
        # Opus at 50 frames a second: the lost 5 % leave gaps too short to lose words.
        assert min(audio) >= 35 and sum(audio) / len(audio) >= 44, audio


def test_a_300_kbit_uplink_keeps_audio_whole_and_slows_video_down() -> None:
    with call() as (site, alice, bob):
        before = _sending(alice, alice.mark())
        site.cap_uplink(300)
        time.sleep(12)  # the receiver's estimate comes down, the sender follows
        mark = bob.mark()
        audio = rates(bob, "audio from alice", mark, 8)
        video = rates(bob, "video from alice", mark, 8)
        sent = _sending(alice, alice.mark())
        # It slowed down to about the link's rate instead of overflowing it (what the
        # transport counts includes packet overheads and the odd retransmission).
        assert sent < 400 and sent < 0.7 * before, (before, sent)
        assert min(audio) >= 40, audio
        # A keyframe is tens of kilobytes: at 300 kbit/s it takes most of a second, and
        # the second it crosses may carry fewer frames (seen in CI: one second of 7 among
        # 17–31) — but the picture never stops.
        slow = [rate for rate in video if rate < 10]
        assert len(slow) <= 1 and min(video) >= 5 and sum(video) / len(video) >= 12, video


def test_a_cable_out_for_five_seconds_shows_reconnecting_then_the_call_comes_back() -> None:
    with call() as (_, alice, bob):
        mark = bob.mark()
        alice.host.link_down()
        down = time.monotonic()
        lost = bob.wait_for("quality of alice: lost", 10, mark)
        assert bob.when(lost, mark) - down < 5, "the others see it within seconds"
        time.sleep(max(0.0, 5.0 - (time.monotonic() - down)))
        alice.host.link_up()
        back = time.monotonic()
        bobs_lines, alices_lines = bob.mark(), alice.mark()
        bob_sees = bob.wait_for(_moving("alice"), 15, bobs_lines)
        alice_sees = alice.wait_for(_moving("bob"), 15, alices_lines)
        # The first report after the picture came back (reports come once a second).
        assert bob.when(bob_sees, bobs_lines) - back <= 5, "back within 5 s of the network"
        assert alice.when(alice_sees, alices_lines) - back <= 5
        assert not any("reconnecting-failed" in line for line in alice.said().splitlines())


def test_a_network_that_never_returns_ends_the_call_and_lets_the_devices_go() -> None:
    with call() as (_, alice, bob):
        alice.host.link_down()
        down = time.monotonic()
        bob.wait_for("quality of alice: lost", 10)  # Bob's tile says "reconnecting"
        failed = alice.wait_for("reconnecting-failed", 60)
        alice.wait_for("devices released", 10)
        print(f"reconnecting-failed {alice.when(failed) - down:.1f} s after the cable went")
        assert any(line.endswith(" reconnecting") for line in alice.said().splitlines())
