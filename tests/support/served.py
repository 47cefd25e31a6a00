"""The coordinator as users run it: ``python -m desktop_app.coordinator serve`` in a child
process, for tests that must not share an event loop with it (schemathesis, the CLI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import stop


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServedCoordinator:
    base_url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run ``parley-coordinator`` with the same settings and return what it printed."""
        done = subprocess.run(
            [sys.executable, "-m", "desktop_app.coordinator", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()


@contextmanager
def served(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[ServedCoordinator]:
    port = free_port()
    full_env = {**os.environ, "PARLEY_DATA_DIR": str(data_dir), **(env or {})}
    log = open(data_dir / "coordinator.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.coordinator", "serve", "--port", str(port), *extra],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError((data_dir / "coordinator.log").read_text())
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the coordinator did not start within 30 s")
            time.sleep(0.1)
        yield ServedCoordinator(base_url, process, data_dir, full_env)
    finally:
        stop(process)
        log.close()
