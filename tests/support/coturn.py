"""A real coturn (Debian ``coturn``) for tests: on loopback, or inside a network namespace
a test made (``netns``), with the ``use-auth-secret`` scheme the coordinator mints
credentials for. Ready once it answers a STUN binding request."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aioice import stun

from tests.support.processes import stop

TURNSERVER = shutil.which("turnserver") or "/usr/bin/turnserver"
REALM = "parley.test"


def available() -> bool:
    return Path(TURNSERVER).exists()


@dataclass(frozen=True)
class TurnServer:
    host: str
    port: int
    secret: str
    log: Path
    #: turnserver's process (``ip netns exec`` execs it: the same process).
    pid: int

    @property
    def url(self) -> str:
        return f"turn:{self.host}:{self.port}"

    @property
    def tcp_url(self) -> str:
        return f"turn:{self.host}:{self.port}?transport=tcp"

    def allocations(self) -> int:
        """Relay allocations coturn has made so far (from its log)."""
        return self.log.read_text(errors="replace").count("ALLOCATE processed, success")


def _answers_stun(host: str, port: int) -> bool:
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(0.2)
        try:
            probe.sendto(bytes(request), (host, port))
            return bool(probe.recv(2048))
        except OSError:
            return False


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def coturn(
    secret: str, host: str = "127.0.0.1", port: int | None = None, netns: str | None = None
) -> Iterator[TurnServer]:
    """Run ``turnserver`` until the block ends. In a namespace, the readiness probe runs
    there too (``ip netns exec``), since its address is reachable only from inside."""
    work = Path(tempfile.mkdtemp(prefix="parley-coturn-"))
    port = port or (3478 if netns else _free_udp_port(host))
    log = work / "turnserver.log"
    command = [
        TURNSERVER,
        "-n",  # no configuration file: everything is on this line
        f"--listening-ip={host}",
        f"--relay-ip={host}",
        f"--listening-port={port}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--fingerprint",
        "--no-tls",
        "--no-dtls",
        "--no-cli",
        "--no-multicast-peers",
        f"--pidfile={work / 'turnserver.pid'}",
        f"--db={work / 'turndb'}",
        f"--log-file={log}",
        "--simple-log",
        "--verbose",
    ]
    if netns:
        command = ["ip", "netns", "exec", netns, *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not _ready(host, port, netns):
            if process.poll() is not None or time.monotonic() > deadline:
                said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(f"coturn did not start: {said}")
            time.sleep(0.1)
        yield TurnServer(host, port, secret, log, process.pid)
    finally:
        stop(process)
        shutil.rmtree(work, ignore_errors=True)


def _ready(host: str, port: int, netns: str | None) -> bool:
    if netns is None:
        return _answers_stun(host, port)
    probe = (
        "import sys; from tests.support.coturn import _answers_stun; "
        f"sys.exit(0 if _answers_stun({host!r}, {port}) else 1)"
    )
    root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", probe],
        cwd=root,
        capture_output=True,
    )
    return done.returncode == 0
