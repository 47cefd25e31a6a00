"""What the benchmarks share: starting a server as a child process, and percentiles."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def server(
    command: list[str], port: int, env: dict[str, str], probe: str = "/healthz"
) -> Iterator[str]:
    """Run ``command`` until the block ends; yields its base URL once it answers ``probe``
    (any HTTP answer counts, a 404 too)."""
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}{probe}", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    raise SystemExit(f"server did not start: {stderr}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def coordinator_command(
    port: int, secret: str, database: str, rate_limits: bool = False
) -> list[str]:
    """``parley-coordinator serve`` as the benchmarks run it (quiet: no access log; no
    request budgets unless asked — a benchmark's load comes from one or two tokens)."""
    return [
        sys.executable,
        "-m",
        "desktop_app.coordinator",
        "serve",
        "--port",
        str(port),
        "--secret",
        secret,
        "--database",
        database,
        "--log-level",
        "warning",
        *([] if rate_limits else ["--no-rate-limits"]),
    ]
