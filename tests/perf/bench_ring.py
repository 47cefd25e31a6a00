"""Ring fan-out latency: from the caller's request to the callee's ``call.ring``.

    .venv/bin/python tests/perf/bench_ring.py [--users 1000] [--rate 50] [--seconds 10]

Connects ``--users`` WebSocket clients (half callers, half callees, each pair with a 1:1
call created beforehand), then rings ``--rate`` calls per second (open loop: requests go
out on schedule whatever the answers do) for ``--seconds``. Latency is measured from just
before the caller's ``POST …/ring`` to the moment the callee's socket delivers
``call.ring``. The same load runs against a bare WebSocket fan-out server
(bare_ws_app.py: an HTTP POST sends one small message to one user's socket) in the same
run, as the baseline. Coordinator: SQLite, one process. Target: p99 <= 10 ms at 1,000
users and 50 rings/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_app.coordinator.auth import create_server_token, create_user_token
from tests.perf.harness import ROOT, coordinator_command, percentile, server
from tests.support.served import free_port

SECRET = "ring-bench-secret-0123456789abcdef0123456789ab"


@dataclass
class Measurement:
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    #: (seconds since the first ring, latency ms) of every ring, to see when stalls happen
    timeline: list[tuple[float, float]] = field(default_factory=list)
    first_sent: float = 0.0
    arrived: int = 0
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    listeners: list[asyncio.Task[None]] = field(default_factory=list)

    def received(self, key: str) -> None:
        started = self.sent_at.pop(key, None)
        if started is not None:
            latency = (time.perf_counter() - started) * 1000
            self.latencies_ms.append(latency)
            self.timeline.append((started - self.first_sent, latency))
            self.arrived += 1
        if not self.sent_at:
            self.all_arrived.set()


async def _listen(
    socket: websockets.ClientConnection, on_message: Callable[[dict[str, object]], None]
) -> None:
    try:
        async for raw in socket:
            on_message(json.loads(raw))
    except websockets.ConnectionClosed:
        pass


async def _connect_all(
    count: int, connect: Callable[[int], Awaitable[websockets.ClientConnection]]
) -> list[websockets.ClientConnection]:
    limit = asyncio.Semaphore(50)

    async def one(i: int) -> websockets.ClientConnection:
        async with limit:
            return await connect(i)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _drive(
    rings: int, rate: float, send: Callable[[int], Awaitable[None]], measurement: Measurement
) -> float:
    """Send ``rings`` requests at ``rate`` per second on a fixed schedule; wait for arrivals."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    measurement.first_sent = time.perf_counter()
    tasks = []
    for i in range(rings):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    if measurement.sent_at:
        measurement.all_arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(measurement.all_arrived.wait(), 5)
    return loop.time() - start


async def bench_coordinator(url: str, users: int, rings: int, rate: float) -> Measurement:
    pairs = users // 2
    measurement = Measurement()
    ws_url = url.replace("http://", "ws://") + "/v1/ws"

    def on_message(message: dict[str, object]) -> None:
        if message.get("type") == "call.ring":
            measurement.received(str(message["call_cid"]))

    async def connect(i: int) -> websockets.ClientConnection:
        user = f"u{i}"
        socket = await websockets.connect(ws_url, max_size=2**20)
        await socket.send(
            json.dumps(
                {"type": "auth", "token": create_user_token(SECRET, user), "user": {"id": user}}
            )
        )
        assert json.loads(await socket.recv())["type"] == "connection.ok"
        measurement.listeners.append(asyncio.create_task(_listen(socket, on_message)))
        return socket

    sockets = await _connect_all(users, connect)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        server_headers = {"Authorization": f"Bearer {create_server_token(SECRET)}"}
        for i in range(rings):  # one 1:1 call per ring, caller u<k>, callee u<k + pairs>
            caller, callee = f"u{i % pairs}", f"u{i % pairs + pairs}"
            data = {"created_by_id": caller, "members": [{"user_id": caller}, {"user_id": callee}]}
            response = await client.post(
                f"/v1/calls/default/rb{i}", json={"data": data}, headers=server_headers
            )
            response.raise_for_status()

        async def send(i: int) -> None:
            caller = f"u{i % pairs}"
            headers = {"Authorization": f"Bearer {create_user_token(SECRET, caller)}"}
            measurement.sent_at[f"default:rb{i}"] = time.perf_counter()
            response = await client.post(f"/v1/calls/default/rb{i}/ring", json={}, headers=headers)
            response.raise_for_status()

        await _drive(rings, rate, send, measurement)
    for socket in sockets:
        await socket.close()
    return measurement


async def bench_bare(url: str, users: int, rings: int, rate: float) -> Measurement:
    pairs = users // 2
    measurement = Measurement()
    ws_url = url.replace("http://", "ws://")

    def on_message(message: dict[str, object]) -> None:
        measurement.received(str(message["call_cid"]))

    async def connect(i: int) -> websockets.ClientConnection:
        socket = await websockets.connect(f"{ws_url}/ws/u{i}")
        measurement.listeners.append(asyncio.create_task(_listen(socket, on_message)))
        return socket

    sockets = await _connect_all(users, connect)
    await asyncio.sleep(0.5)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def send(i: int) -> None:
            callee = f"u{i % pairs + pairs}"
            measurement.sent_at[f"default:rb{i}"] = time.perf_counter()
            response = await client.post(f"/ring/{callee}", json={"call_cid": f"default:rb{i}"})
            response.raise_for_status()

        await _drive(rings, rate, send, measurement)
    for socket in sockets:
        await socket.close()
    return measurement


def report(name: str, m: Measurement, rings: int, verbose: bool = False) -> tuple[float, float]:
    p50, p99 = percentile(m.latencies_ms, 0.50), percentile(m.latencies_ms, 0.99)
    worst = max(m.latencies_ms, default=0)
    print(f"{name:28}{m.arrived:>8}/{rings:<6}{p50:>10.2f}{p99:>10.2f}{worst:>10.2f}")
    if verbose:
        slowest = sorted(m.timeline, key=lambda item: -item[1])[:8]
        print(
            "    slowest (s after start, ms): "
            + ", ".join(f"{t:.2f}s {ms:.0f}" for t, ms in sorted(slowest))
        )
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--verbose", action="store_true", help="show when the slowest rings happened"
    )
    args = parser.parse_args()
    rings = int(args.rate * args.seconds)
    python = sys.executable
    env = {"PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        # the same keep-alive as `parley-coordinator serve` (cli.py): pings every 15 s
        bare_cmd = [
            python,
            "-m",
            "uvicorn",
            "tests.perf.bare_ws_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--app-dir",
            str(ROOT),
            "--ws-ping-interval",
            "15",
            "--ws-ping-timeout",
            "30",
            "--ws-per-message-deflate",
            "false",
        ]
        with server(bare_cmd, port, env, probe="/") as url:
            bare = asyncio.run(bench_bare(url, args.users, rings, args.rate))
        port = free_port()
        ours_cmd = coordinator_command(port, SECRET, f"sqlite:///{data}/ring.sqlite3")
        with server(ours_cmd, port, {**env, "PARLEY_DATA_DIR": data}) as url:
            ours = asyncio.run(bench_coordinator(url, args.users, rings, args.rate))
    print(f"\n{args.users} connected users, {args.rate:g} rings/s for {args.seconds:g} s\n")
    print(f"{'':28}{'arrived':>14}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    bare_p50, bare_p99 = report("bare WebSocket fan-out", bare, rings, args.verbose)
    our_p50, our_p99 = report("coordinator call.ring", ours, rings, args.verbose)
    print(
        f"{'  ratio (coordinator / bare)':28}{'':>14}{our_p50 / bare_p50:>9.1f}x{our_p99 / bare_p99:>9.1f}x"
    )
    print("\ntarget: coordinator p99 <= 10 ms")


if __name__ == "__main__":
    main()
