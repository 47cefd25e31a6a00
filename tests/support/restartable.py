"""A coordinator that tests kill (``SIGKILL``) and start again, on a fixed port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.served import free_port


class Coordinator:
    """``parley-coordinator serve`` on a fixed port, killed and started again at will."""

    def __init__(self, data_dir: Path, secret: str, grace: float) -> None:
        self.secret, self.grace = secret, grace
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, database: Path) -> float:
        """Start it and wait until it answers; says when it did (``time.monotonic``)."""
        self.starts += 1
        log = open(self.data_dir / f"coordinator-{self.starts}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "desktop_app.coordinator",
                "serve",
                "--port",
                str(self.port),
                "--database",
                f"sqlite:///{database}",
                "--secret",
                self.secret,
                "--grace-seconds",
                str(self.grace),
            ],
            env={**os.environ, "PARLEY_DATA_DIR": str(self.data_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic()
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the coordinator did not start within 30 s")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
