"""Network topologies for tests, built from Linux network namespaces (root only).

    with Internet() as net:              # the "public" namespace: a bridge, 203.0.113.1
        office = net.site("office", nat="symmetric", firewall="no-udp")
        alice = office.host("alice")      # 192.168.<n>.2 behind the site's router
        net.run_public(["turnserver", …])

* **The internet** is one namespace (``public``) holding a bridge with 203.0.113.1/24
  (TEST-NET-3, a documentation range: nothing real is ever addressed). The coordinator
  and coturn run there.
* **A site** is a router namespace: its WAN port on that bridge (203.0.113.<n>), its LAN
  bridge 192.168.<n>.1/24, forwarding on, and nftables rules — ``nat="cone"``
  (``masquerade``: Linux keeps the source port, so one mapping serves every destination),
  ``nat="symmetric"`` (``masquerade fully-random``: each destination gets a new port, so
  only a relay connects two such sites), or ``nat=None`` (routed, no NAT); a
  ``firewall`` of ``"turn-only-udp"`` (UDP leaves only for the TURN server's port) or
  ``"no-udp"``.
* **A host** is a namespace on a site's LAN with its default route through the router.
* **Faults**: :meth:`Host.link_down` / :meth:`Host.link_up` (the host's cable),
  :meth:`Site.cap_uplink` (``tbf`` on the router's WAN port), :meth:`Site.drop_share`
  (nftables ``numgen random`` drops a share of forwarded packets both ways). This
  kernel has no ``netem``: no added delay.

Names carry a per-run prefix, and everything is deleted on exit (deleting a namespace
deletes its interfaces, its rules and the processes' sockets with it).
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from tests.support.processes import stop

PUBLIC = "203.0.113.1"
TURN_PORT = 3478
Nat = Literal["cone", "symmetric"] | None
Firewall = Literal["turn-only-udp", "no-udp"] | None


def available() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("ip")) and bool(shutil.which("nft"))


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done


def in_ns(ns: str, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *command, check=check)


@dataclass
class Host:
    ns: str
    address: str
    site: Site

    def popen(self, command: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        return self.site.net.popen(self.ns, command, **kwargs)

    def link_down(self) -> None:
        in_ns(self.ns, "ip", "link", "set", "eth0", "down")

    def link_up(self) -> None:
        in_ns(self.ns, "ip", "link", "set", "eth0", "up")
        in_ns(self.ns, "ip", "route", "replace", "default", "via", self.site.gateway)


@dataclass
class Site:
    net: Internet
    router: str
    index: int
    hosts: list[Host] = field(default_factory=list)

    @property
    def gateway(self) -> str:
        return f"192.168.{self.index}.1"

    @property
    def wan_address(self) -> str:
        return f"203.0.113.{10 + self.index}"

    def host(self, name: str) -> Host:
        ns = self.net.namespace(name)
        address = f"192.168.{self.index}.{2 + len(self.hosts)}"
        sh("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
           "peer", "name", f"lan{len(self.hosts)}", "netns", self.router)  # fmt: skip
        in_ns(self.router, "ip", "link", "set", f"lan{len(self.hosts)}", "master", "brl", "up")
        in_ns(ns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        in_ns(ns, "ip", "link", "set", "eth0", "up")
        in_ns(ns, "ip", "route", "add", "default", "via", self.gateway)
        host = Host(ns, address, self)
        self.hosts.append(host)
        return host

    def cap_uplink(self, kbit: int) -> None:
        """Shape what leaves the site (the hosts' upload) to ``kbit`` kbit/s."""
        in_ns(self.router, "tc", "qdisc", "replace", "dev", "wan0", "root", "tbf",
              "rate", f"{kbit}kbit", "burst", "4kb", "latency", "200ms")  # fmt: skip

    def drop_share(self, percent: int) -> None:
        """Drop ``percent`` % of the packets the router forwards, both ways, at random,
        instead of what an earlier call set (0: none)."""
        # Made (if missing) and deleted first: a repeated table would add its rule.
        rules = "add table inet loss\ndelete table inet loss\n"
        if percent:
            rules += f"""
        table inet loss {{
          chain forward {{
            type filter hook forward priority -10; policy accept;
            numgen random mod 100 < {percent} drop
          }}
        }}"""
        self.net.nft(self.router, rules)


class Internet:
    def __init__(self) -> None:
        self.prefix = f"p{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen[str]] = []
        self._sites = itertools.count(1)
        self.public = ""

    def __enter__(self) -> Internet:
        try:
            self.public = self.namespace("public")
            in_ns(self.public, "ip", "link", "add", "br0", "type", "bridge")
            in_ns(self.public, "ip", "addr", "add", f"{PUBLIC}/24", "dev", "br0")
            in_ns(self.public, "ip", "link", "set", "br0", "up")
            # The rest of the internet: a default route to a namespace that forwards
            # nothing, where packets for addresses nobody here has (a peer's private host
            # candidate) vanish, as they would out there. Without it, coturn relaying to
            # such an address gets "network unreachable" and drops the whole allocation.
            void = self.namespace("void")
            sh("ip", "link", "add", "up0", "netns", self.public, "type", "veth",
               "peer", "name", "eth0", "netns", void)  # fmt: skip
            in_ns(void, "ip", "addr", "add", "198.51.100.2/24", "dev", "eth0")
            in_ns(void, "ip", "link", "set", "eth0", "up")
            in_ns(self.public, "ip", "addr", "add", "198.51.100.1/24", "dev", "up0")
            in_ns(self.public, "ip", "link", "set", "up0", "up")
            in_ns(self.public, "ip", "route", "add", "default", "via", "198.51.100.2")
            # It routes between the sites, as the internet does.
            in_ns(self.public, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def namespace(self, name: str) -> str:
        ns = f"{self.prefix}-{name}"
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        in_ns(ns, "ip", "link", "set", "lo", "up")
        return ns

    def site(self, name: str, nat: Nat = "cone", firewall: Firewall = None) -> Site:
        index = next(self._sites)
        router = self.namespace(f"{name}-gw")
        site = Site(self, router, index)
        sh("ip", "link", "add", "wan0", "netns", router, "type", "veth",
           "peer", "name", f"site{index}", "netns", self.public)  # fmt: skip
        in_ns(self.public, "ip", "link", "set", f"site{index}", "master", "br0", "up")
        in_ns(router, "ip", "addr", "add", f"{site.wan_address}/24", "dev", "wan0")
        in_ns(router, "ip", "link", "set", "wan0", "up")
        in_ns(router, "ip", "link", "add", "brl", "type", "bridge")
        in_ns(router, "ip", "addr", "add", f"{site.gateway}/24", "dev", "brl")
        in_ns(router, "ip", "link", "set", "brl", "up")
        in_ns(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        in_ns(router, "ip", "route", "add", "default", "via", PUBLIC)  # the internet
        if nat is not None:
            random = " fully-random" if nat == "symmetric" else ""
            self.nft(router, f"""
            table ip nat {{
              chain postrouting {{
                type nat hook postrouting priority 100; policy accept;
                oifname "wan0" masquerade{random}
              }}
            }}""")  # fmt: skip
        else:  # routed: the public side needs a way back to the LAN
            in_ns(self.public, "ip", "route", "add", f"192.168.{index}.0/24",
                  "via", site.wan_address)  # fmt: skip
        if firewall is not None:
            turn = f"ip daddr {PUBLIC} udp dport {TURN_PORT} accept"
            self.nft(router, f"""
            table inet firewall {{
              chain forward {{
                type filter hook forward priority 0; policy accept;
                {f'iifname "brl" {turn}' if firewall == "turn-only-udp" else ""}
                iifname "brl" meta l4proto udp drop
              }}
            }}""")  # fmt: skip
        return site

    def nft(self, ns: str, rules: str) -> None:
        done = subprocess.run(
            ["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"nft in {ns}: {done.stderr.strip()}")

    def popen(self, ns: str, command: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
        process: subprocess.Popen[str] = subprocess.Popen(  # type: ignore[call-overload]
            ["ip", "netns", "exec", ns, *command], text=True, **kwargs
        )
        self.processes.append(process)
        return process

    def wait_listening(self, ns: str, host: str, port: int, seconds: float = 20.0) -> None:
        """Until a TCP connection to ``host:port`` succeeds from inside ``ns``."""
        deadline = time.monotonic() + seconds
        probe = f"import socket; socket.create_connection(({host!r}, {port}), timeout=1)"
        while in_ns(ns, "python3", "-c", probe, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {host}:{port} in {ns}")
            time.sleep(0.2)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()  # all at once, then each reaped
        for process in self.processes:
            stop(process)
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
