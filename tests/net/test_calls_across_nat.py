"""1:1 calls across NATs and firewalls, in network namespaces (``tests/support/netns.py``):
a "public" namespace runs the coordinator and coturn, each person sits in a site behind a
router, and two bots — each in its own process and namespace — ring and answer. Each
side must see the other's picture and report the path its call took."""

from __future__ import annotations

import pytest

from tests.net.scene import Scene, Side
from tests.support import coturn, netns

pytestmark = [
    pytest.mark.skipif(not netns.available(), reason="network namespaces need root, ip, nft"),
    pytest.mark.skipif(not coturn.available(), reason="needs Debian's coturn"),
    pytest.mark.timeout(180),
]


@pytest.mark.parametrize(
    ("alice_site", "bob_site", "alice_path", "bob_path"),
    [
        pytest.param(
            Side(nat="symmetric"), Side(nat="symmetric"), {"relayed udp"}, {"relayed udp"},
            id="two-symmetric-nats-relay",
        ),
        pytest.param(
            Side(nat="cone"), Side(nat=None), {"direct udp", "relayed udp"},
            {"direct udp", "relayed udp"},
            id="one-nat-connects",
        ),
        pytest.param(
            Side(nat="cone", firewall="turn-only-udp"), Side(nat="symmetric"),
            {"relayed udp"}, {"relayed udp"},
            id="udp-only-to-turn-relays",
        ),
        pytest.param(
            Side(nat="cone", firewall="no-udp"), Side(nat="symmetric"),
            {"relayed tcp"}, {"relayed udp"},
            id="udp-blocked-turn-over-tcp",
        ),
    ],
)  # fmt: skip
def test_a_call_connects_and_reports_its_path(
    alice_site: Side, bob_site: Side, alice_path: set[str], bob_path: set[str]
) -> None:
    with Scene() as scene:
        alice = scene.person("alice", scene.site("a", alice_site))
        bob = scene.person("bob", scene.site("b", bob_site))
        bob.bot("--answer", "accept")
        alice.bot("--ring", "bob")
        assert alice.path_to("bob") in alice_path, alice.said()
        assert bob.path_to("alice") in bob_path, bob.said()
        alice.wait_for("receiving video from bob")
        bob.wait_for("receiving video from alice")
        if "relayed" in alice.path_to("bob") + bob.path_to("alice"):
            assert scene.turn.allocations() >= 1


def test_two_people_on_one_lan_connect_directly() -> None:
    with Scene() as scene:
        office = scene.site("office", Side(nat="symmetric"))
        alice, bob = scene.person("alice", office), scene.person("bob", office)
        bob.bot("--answer", "accept")
        alice.bot("--ring", "bob")
        assert alice.path_to("bob") == "direct udp", alice.said()
        assert bob.path_to("alice") == "direct udp", bob.said()
        assert "candidates host → host" in alice.wait_for("connected to bob")
        alice.wait_for("receiving video from bob")
        bob.wait_for("receiving video from alice")
