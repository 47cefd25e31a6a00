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


def _free_port(host: str) -> int:
    """A port free for both UDP and TCP: coturn listens on both, and a port another
    process holds for TCP alone (a coordinator, a browser) keeps coturn retrying the
    bind for ever without answering STUN."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return port


#: What coturn logs when its port was taken between our check and its bind.
_PORT_TAKEN = "errno=98"


@contextmanager
def coturn(
    secret: str, host: str = "127.0.0.1", port: int | None = None, netns: str | None = None
) -> Iterator[TurnServer]:
    """Run ``turnserver`` until the block ends. In a namespace, the readiness probe runs
    there too (``ip netns exec``), since its address is reachable only from inside. On
    loopback with no port asked for, a port another process takes before coturn binds it
    is answered with another port (up to three tries)."""
    attempts = 1 if port or netns else 3
    for attempt in range(attempts):
        try:
            with _coturn(secret, host, port or (3478 if netns else _free_port(host)), netns) as s:
                yield s
                return
        except _PortTaken:
            if attempt == attempts - 1:
                raise RuntimeError("coturn did not start: its port was taken three times") from None


class _PortTaken(Exception):
    pass


@contextmanager
def _coturn(secret: str, host: str, port: int, netns: str | None) -> Iterator[TurnServer]:
    work = Path(tempfile.mkdtemp(prefix="parley-coturn-"))
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
            said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            if _PORT_TAKEN in said:
                raise _PortTaken
            if process.poll() is not None or time.monotonic() > deadline:
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
