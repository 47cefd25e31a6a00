"""``sdk/ice.py``: which STUN/TURN URL aiortc gets first (it uses only the first of each),
decided by whether UDP reaches the TURN server — probed against a real coturn and a port
where nothing answers. The paths calls take through NATs are tested in ``tests/net``."""

from __future__ import annotations

import socket

import pytest

from desktop_app.protocol.calls import IceServer
from desktop_app.protocol.ice_urls import parse_ice_url
from desktop_app.sdk.ice import order_for, probe_target, udp_reaches
from tests.support import coturn

TURN = IceServer(
    urls=[
        "turns:relay.example.org:5349",
        "turn:relay.example.org:3478?transport=tcp",
        "turn:relay.example.org:3478",
        "stun:relay.example.org:3478",
    ],
    username="1700000000:alice",
    credential="c",
)
STATIC = IceServer(urls=["stun:static.example.org"])


def test_urls_are_read_as_aiortc_reads_them() -> None:
    assert parse_ice_url("turn:relay.example.org") == parse_ice_url("turn:relay.example.org:3478")
    secure = parse_ice_url("turns:relay.example.org")
    assert secure is not None and (secure.port, secure.transport) == (5349, "tcp")
    tcp = parse_ice_url("turn:[2001:db8::1]:3478?transport=tcp")
    assert tcp is not None and (tcp.host, tcp.transport) == ("2001:db8::1", "tcp")
    assert parse_ice_url("https://relay.example.org") is None


def test_with_udp_open_turn_over_udp_comes_first_and_stun_stays() -> None:
    ordered = order_for([STATIC, TURN], udp_open=True)
    assert ordered[0].urls[0] == "turn:relay.example.org:3478"
    assert ordered[0].username == TURN.username and ordered[0].credential == TURN.credential
    assert "stun:relay.example.org:3478" in ordered[0].urls and ordered[1] == STATIC


def test_with_udp_blocked_turn_over_tcp_comes_first_and_stun_goes() -> None:
    ordered = order_for([STATIC, TURN], udp_open=False)
    assert [s.urls for s in ordered] == [
        [
            "turns:relay.example.org:5349",
            "turn:relay.example.org:3478?transport=tcp",
            "turn:relay.example.org:3478",
        ]
    ]


def test_the_probe_asks_the_turn_server_over_udp() -> None:
    assert probe_target([STATIC, TURN]) == ("relay.example.org", 3478)
    assert probe_target([STATIC]) == ("static.example.org", 3478)
    assert probe_target([IceServer(urls=["turns:relay.example.org"])]) is None
    assert probe_target([]) is None


@pytest.mark.skipif(not coturn.available(), reason="needs Debian's coturn")
async def test_udp_reaches_a_real_turn_server_and_not_a_silent_port() -> None:
    with coturn.coturn("probe-secret") as server:
        assert await udp_reaches(server.host, server.port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # bound, never answers
        assert not await udp_reaches("127.0.0.1", silent.getsockname()[1])
