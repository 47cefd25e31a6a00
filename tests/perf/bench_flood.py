"""One token floods the coordinator; how much does another user notice?

    .venv/bin/python tests/perf/bench_flood.py [--seconds 8]

Runs the coordinator (SQLite, one process) twice — with the deployment's request budgets
and without. In each run another user loads a call every 50 ms (from 127.0.0.2): first
on an idle server, the baseline of the same run, then while wrk floods from 127.0.0.1
with one token — two loads to one update of the flooder's own call, 50 connections.
(Two loopback addresses, because a flooder and its victims do not share an address on a
real network.) Prints the other user's p50/p99 next to the baseline (a ratio), and what
the flood got. Target with budgets on: the other user's p99 under the flood <= 2x idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop_app.coordinator.auth import create_user_token  # noqa: E402
from tests.perf.bench_coordinator import ensure_wrk  # noqa: E402
from tests.perf.harness import coordinator_command, percentile, server  # noqa: E402
from tests.support.served import free_port  # noqa: E402

SECRET = "bench-flood-secret-0123456789abcdef0123456789"
CONNECTIONS = 50

FLOOD_LUA = """
local n = 0
local headers = {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}
request = function()
  n = n + 1
  if n % 3 == 0 then
    return wrk.format("PATCH", "{path}", headers, '{{"custom": {{"n": ' .. n .. '}}}}')
  end
  return wrk.format("GET", "{path}", headers)
end
"""


def start_flood(url: str, token: str, path: str, seconds: float) -> subprocess.Popen[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(FLOOD_LUA.format(token=token, path=path))
    return subprocess.Popen(
        [ensure_wrk(), "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "-s", script.name, url],
        stdout=subprocess.PIPE,
        text=True,
    )


def flood_summary(out: str) -> str:
    total = re.search(r"(\d+) requests in", out)
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not total or not rate:
        return out.strip()[-200:]
    n, bad = int(total.group(1)), int(refused.group(1)) if refused else 0
    return f"{n:,} requests ({float(rate.group(1)):,.0f}/s), {bad:,} refused"


async def other_user(url: str, token: str, path: str, seconds: float) -> list[float]:
    """A busy app well inside its budget: a load every 50 ms; latencies in ms."""
    samples: list[float] = []
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, transport=transport
    ) as client:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            start = time.perf_counter()
            response = await client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.05)
    return samples


def measure(budgets: bool, seconds: float) -> tuple[list[float], list[float], str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        command = coordinator_command(port, SECRET, f"sqlite:///{data}/flood.sqlite3", budgets)
        with server(command, port, {}) as url:
            alice = create_user_token(SECRET, "alice")
            mallory = create_user_token(SECRET, "mallory")
            quiet, loud = "/v1/calls/default/quiet", "/v1/calls/default/loud"
            for token, path in ((alice, quiet), (mallory, loud)):
                httpx.post(
                    f"{url}{path}", json={}, headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
            idle = asyncio.run(other_user(url, alice, quiet, seconds))
            wrk = start_flood(url, mallory, loud, seconds + 1)
            time.sleep(0.5)  # the flood is under way
            flooded = asyncio.run(other_user(url, alice, quiet, seconds))
            out, _ = wrk.communicate(timeout=120)
    return idle, flooded, flood_summary(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    print(
        f"one token floods with wrk ({CONNECTIONS} connections, 2 loads : 1 update); another "
        f"user loads a call every 50 ms for {args.seconds:g} s\n"
    )
    print(f"{'':36}{'idle':>9}{'flooded':>10}{'ratio':>8}   the flood")
    for label, budgets in (("budgets on (default)", True), ("budgets off", False)):
        idle, flooded, flood = measure(budgets, args.seconds)
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            a, b = percentile(idle, q), percentile(flooded, q)
            note = flood if name == "p99" else ""
            row = f"{label}, other user {name}"
            print(f"{row:36}{a:>7.1f}ms{b:>8.1f}ms{b / a:>7.2f}x   {note}")
    print("\ntarget: with budgets on, the other user's p99 under the flood <= 2x idle")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
