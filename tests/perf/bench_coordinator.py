"""Coordinator throughput and latency, beside a bare endpoint measured in the same run.

    .venv/bin/python tests/perf/bench_coordinator.py [--seconds 10] [--connections 50]

Runs the coordinator (SQLite, one process) and two bare JSON endpoints
(tests/perf/bare_app.py: Starlette, and FastAPI — the framework the coordinator is built on)
under the same uvicorn, and drives each with wrk (Debian 'wrk'; it
is installed when missing and we are root) over 50 concurrent connections: get-or-create
(POST) and get (GET) on 1,000 calls, created before the measurement.
Prints requests/s and p50/p99 latency, and the coordinator's share of each bare endpoint's
throughput. Targets: >= 40 % of the bare FastAPI throughput, p99 <= 25 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop_app.coordinator.auth import create_user_token  # noqa: E402
from tests.perf.harness import coordinator_command, server  # noqa: E402
from tests.support.served import free_port  # noqa: E402

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
CALLS = 1000

LUA = """
local token = "{token}"
local method = "{method}"
local body = '{body}'
local headers = {{["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}}
request = function()
  local path = "/v1/calls/default/bench" .. math.random(0, {calls} - 1)
  if method == "GET" then
    return wrk.format("GET", path, headers)
  end
  return wrk.format("POST", path, headers, body)
end
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    return found


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, method: str, seconds: int, connections: int, token: str) -> Result:
    body = '{"data": {"members": [{"user_id": "bench"}, {"user_id": "peer"}], "custom": {"k": 1}}}'
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA.format(token=token, method=method, body=body, calls=CALLS))
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+([\d.]+(?:us|ms|s))\s*$", out, re.MULTILINE))
    p50, p99 = _ms(percentiles["50"]), _ms(percentiles["99"])
    errors_match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    if socket_errors:
        print(f"  wrk socket errors: {socket_errors.group(1)}")
    return Result(rps, p50, p99, errors)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    wrk = ensure_wrk()
    token = create_user_token(SECRET, "bench")
    python = sys.executable
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as data:
        coord_port = free_port()
        ours = coordinator_command(coord_port, SECRET, f"sqlite:///{data}/bench.sqlite3")
        env = {"PARLEY_DATA_DIR": data, "PYTHONPATH": str(ROOT)}
        for name, target in (("starlette", "app"), ("fastapi", "fastapi_app")):
            port = free_port()
            command = [
                python,
                "-m",
                "uvicorn",
                f"tests.perf.bare_app:{target}",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--app-dir",
                str(ROOT),
            ]
            with server(command, port, env) as bare_url:
                for method in ("POST", "GET"):
                    run_wrk(wrk, bare_url, method, 2, args.connections, token)
                    results[f"{name} {method}"] = run_wrk(
                        wrk, bare_url, method, args.seconds, args.connections, token
                    )
        with server(ours, coord_port, env) as our_url:
            with httpx.Client(
                base_url=our_url, headers={"Authorization": f"Bearer {token}"}
            ) as client:
                for i in range(CALLS):  # create every call, then read it once (warm snapshot)
                    client.post(
                        f"/v1/calls/default/bench{i}",
                        json={"data": {"members": [{"user_id": "peer"}]}},
                    )
                    client.get(f"/v1/calls/default/bench{i}")
            for method in ("POST", "GET"):
                run_wrk(
                    wrk, our_url, "POST" if method == "POST" else "GET", 3, args.connections, token
                )
                results[f"coordinator {method}"] = run_wrk(
                    wrk, our_url, method, args.seconds, args.connections, token
                )
    print(f"\n{args.connections} connections, {args.seconds} s each, {CALLS} calls, SQLite\n")
    print(f"{'':36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, label in (("POST", "get-or-create"), ("GET", "get")):
        ours_result = results[f"coordinator {name}"]
        rows = (
            (f"bare Starlette {name}", results[f"starlette {name}"]),
            (f"bare FastAPI {name}", results[f"fastapi {name}"]),
            (f"coordinator {label}", ours_result),
        )
        for title, r in rows:
            print(f"{title:36}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.errors:>8}")
        for base in ("fastapi", "starlette"):
            ratio = ours_result.rps / results[f"{base} {name}"].rps
            print(f"{'  coordinator / bare ' + base:36}{ratio:>10.1%}")
    print("\ntargets: >= 40 % of the bare endpoint of our framework (FastAPI), p99 <= 25 ms")


if __name__ == "__main__":
    main()
