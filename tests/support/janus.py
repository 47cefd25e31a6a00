"""Janus for tests: the project's own configuration (``packaging/janus/``) with a test
admin key and port, started inside a network namespace the test made (Janus never
gathers ICE candidates on a loopback interface: DESIGN.md §6).

    with netns.Internet() as net:
        with janus_server(net, net.public, "br0", port=8188) as sfu:
            sfu.url            # ws://203.0.113.1:8188
            sfu.kill()         # the server dies mid-call

:class:`MediaLan` is the smallest such place: one namespace with a dummy interface
(``sfu0``, 10.77.0.1/24, one end of a veth pair) that Janus gathers on; :meth:`MediaLan.inside` moves the test's
own thread into it, so an in-process coordinator and SDK clients live there too (sockets
belong to the namespace of the thread that makes them).
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import netns
from tests.support.processes import stop

CONFIG = Path(__file__).resolve().parents[2] / "packaging" / "janus"
ADMIN_KEY = "janus-tests-admin-key"


def available() -> bool:
    return netns.available() and shutil.which("janus") is not None


@dataclass
class JanusServer:
    url: str
    process: subprocess.Popen[str]
    log: Path
    killed: bool = False

    def kill(self) -> None:
        """As a crash would: no goodbye to anyone."""
        self.killed = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def check_alive(self) -> None:
        """Janus must not have died by itself (a crash is a bug to look into)."""
        code = self.process.poll()
        if code is not None and not self.killed:
            tail = "\n".join(self.output().splitlines()[-40:])
            raise AssertionError(f"Janus at {self.url} died (exit {code}):\n{tail}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def write_config(folder: Path, port: int, admin_key: str = ADMIN_KEY) -> None:
    """The shipped configuration with this server's port and admin key."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in CONFIG.glob("*.jcfg"):
        text = source.read_text()
        text = re.sub(r'admin_key = "[^"]*"', f'admin_key = "{admin_key}"', text)
        text = re.sub(r"ws_port = \d+", f"ws_port = {port}", text)
        (folder / source.name).write_text(text)


@contextmanager
def janus_server(
    net: netns.Internet,
    ns: str,
    interface: str,
    address: str = netns.PUBLIC,
    port: int = 8188,
    rtp_ports: str = "20000-24999",
) -> Iterator[JanusServer]:
    work = Path(tempfile.mkdtemp(prefix="parley-janus-"))
    write_config(work / "conf", port)
    log = work / "janus.log"
    command = [
        "janus", "-F", str(work / "conf"), "-E", interface, "-r", rtp_ports,
        "-o", "-L", str(log), "-N",
    ]  # fmt: skip
    # Its working directory is the scratch folder: a core dump stays out of the checkout.
    process = net.popen(
        ns, command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=work
    )
    server = JanusServer(f"ws://{address}:{port}", process, log)
    try:
        net.wait_listening(ns, address, port)
        yield server
        server.check_alive()
    finally:
        stop(process)
        shutil.rmtree(work, ignore_errors=True)


#: ``setns``'s flag for a network namespace (linux/sched.h).
CLONE_NEWNET = 0x40000000
LAN_ADDRESS = "10.77.0.1"


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


class MediaLan:
    """A namespace with a dummy interface Janus gathers on (see the module docstring)."""

    def __init__(self) -> None:
        self.ns = f"p{os.getpid() % 100000}{secrets.token_hex(2)}-sfu"
        self.processes: list[subprocess.Popen[str]] = []
        self.namespaces = [self.ns]

    def __enter__(self) -> MediaLan:
        netns.sh("ip", "netns", "add", self.ns)
        try:
            netns.in_ns(self.ns, "ip", "link", "set", "lo", "up")
            # A veth pair with both ends here (this kernel has no dummy interfaces): an
            # interface with carrier, whose address every process in here reaches.
            netns.in_ns(self.ns, "ip", "link", "add", "sfu0", "type", "veth",
                        "peer", "name", "sfu1")  # fmt: skip
            netns.in_ns(self.ns, "ip", "addr", "add", f"{LAN_ADDRESS}/24", "dev", "sfu0")
            netns.in_ns(self.ns, "ip", "link", "set", "sfu0", "up")
            netns.in_ns(self.ns, "ip", "link", "set", "sfu1", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # netns.Internet's interface, for janus_server()
    def popen(self, ns: str, command: list[str], **kwargs: object) -> subprocess.Popen[str]:
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", ns, *command], text=True, **kwargs
        )
        self.processes.append(process)
        return process

    def wait_listening(self, ns: str, host: str, port: int, seconds: float = 20.0) -> None:
        netns.Internet.wait_listening(self, ns, host, port, seconds)  # type: ignore[arg-type]

    def janus(self, port: int, rtp_ports: str) -> Iterator[JanusServer]:
        return janus_server(self, self.ns, "sfu0", LAN_ADDRESS, port, rtp_ports)  # type: ignore[arg-type]

    @contextmanager
    def inside(self) -> Iterator[None]:
        """This thread's sockets (and threads it starts) in the namespace, until the end."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def close(self) -> None:
        for process in self.processes:
            stop(process)
        netns.sh("ip", "netns", "del", self.ns, check=False)
