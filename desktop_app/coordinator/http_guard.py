"""What an unauthenticated client can cost, bounded before any route runs.

uvicorn's httptools protocol reads request heads of any size, for as long as a client
cares to trickle them, from as many connections as it opens. This protocol

* refuses a head over :attr:`max_head_bytes` with 431 — counted on the raw bytes before
  they are parsed (so a huge head is never buffered) and again on what the parser hands
  over (so a head pipelined behind another in the same read is counted too);
* closes a connection whose head does not arrive within :attr:`head_timeout` seconds —
  or that sends nothing at all — with 408 (a slow-headers attack holds a connection for
  nothing; slow *bodies* are timed by :mod:`.body_guard`);
* turns away connections beyond :attr:`max_connections` in all, or beyond
  :attr:`max_per_address` from one address (IPv6: one /64), at once with 503 and
  ``Retry-After``.

Each refusal is a problem document, then the connection closes.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from desktop_app.protocol import ERROR_STATUS, PROBLEM_CONTENT_TYPE, ErrorCode

from .problems import ApiError

HEAD_END = b"\r\n\r\n"


def problem_bytes(code: ErrorCode, detail: str, extra: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 response carrying a problem, closing the connection."""
    status, title = ERROR_STATUS[code]
    body = json.dumps(ApiError(code, detail).body()).encode()
    headers = {
        "content-type": PROBLEM_CONTENT_TYPE,
        "content-length": str(len(body)),
        "connection": "close",
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {title}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def address_key(host: str) -> str:
    """Whom a budget belongs to: the IPv4 address, or the IPv6 /64 (one subscriber's
    network hands out a whole /64, so single addresses would be free fresh budgets)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


class _HeadTooLarge(Exception):
    pass


class GuardedHttpProtocol(HttpToolsProtocol):
    max_head_bytes = 16 * 1024
    head_timeout = 10.0
    max_connections = 10_000
    max_per_address = 256
    #: Open connections per address key, over every connection of this server process.
    _per_address: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._raw_bytes = 0
        self._parsed_bytes = 0
        self._tail = b""
        self._head_open = True
        self._oversized = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._address: str | None = None
        #: A refusal waiting for the answer to a request before it (pipelined).
        self._refusal: bytes | None = None

    # --- the connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = address_key(self.client[0]) if self.client else None
        if self._address is not None:
            self._per_address[self._address] += 1
        if len(self.connections) > self.max_connections:
            detail = "The server has as many connections as it takes; try again in a moment."
        elif self._address is not None and self._per_address[self._address] > self.max_per_address:
            detail = (
                f"Your address has {self.max_per_address} connections open already; "
                "close some, or try again in a moment."
            )
        else:
            self._start_head()
            return
        self._refuse(ErrorCode.SERVER_BUSY, detail, {"retry-after": "1"})

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._address is not None:
            self._per_address[self._address] -= 1
            if self._per_address[self._address] <= 0:
                del self._per_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open and not self._raw_head_fits(data):
            self._too_large()
            return
        super().data_received(data)

    def handle_websocket_upgrade(self) -> None:
        """The WebSocket protocol takes the connection over: its end is what releases
        the address's count from now on."""
        address, self._address = self._address, None
        super().handle_websocket_upgrade()
        if address is None:
            return
        websocket = self.transport.get_protocol()
        lost = websocket.connection_lost
        counts = self._per_address

        def released(exc: Exception | None) -> None:
            counts[address] -= 1
            if counts[address] <= 0:
                del counts[address]
            lost(exc)

        websocket.connection_lost = released  # type: ignore[method-assign]

    def send_400_response(self, msg: str) -> None:
        if self._oversized:  # our own callback stopped the parser
            self._too_large()
            return
        super().send_400_response(msg)

    # --- the head of each request --------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_bytes = 0
        if not self._head_open:  # pipelined behind a request still being read
            self._start_head()
        elif self._head_timer is None:  # the first byte of the next keep-alive request
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_parsed(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next head starts after this whole message (body included); uvicorn's
        # keep-alive timeout covers the idle time before its first byte.
        self._start_head(timed=False)

    def _start_head(self, timed: bool = True) -> None:
        self._head_open = True
        self._raw_bytes = 0
        self._tail = b""
        self._stop_head_timer()
        if timed:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _raw_head_fits(self, data: bytes) -> bool:
        """Whether the head still fits, counting only up to its end when it ends in this
        read (a body may follow in the same read)."""
        seen = self._tail + data
        end = seen.find(HEAD_END)
        counted = len(data) if end < 0 else max(0, end + len(HEAD_END) - len(self._tail))
        self._raw_bytes += counted
        self._tail = seen[-(len(HEAD_END) - 1) :]
        return self._raw_bytes <= self.max_head_bytes

    def _count_parsed(self, size: int) -> None:
        self._parsed_bytes += size
        if self._parsed_bytes > self.max_head_bytes:
            self._oversized = True
            raise _HeadTooLarge  # httptools stops; uvicorn then calls send_400_response

    def _too_large(self) -> None:
        self._refuse(
            ErrorCode.HEADERS_TOO_LARGE,
            f"The request's headers are over {self.max_head_bytes // 1024} KiB.",
        )

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._head_open and not self.transport.is_closing():
            self._refuse(
                ErrorCode.REQUEST_TIMEOUT,
                f"The request's headers did not arrive within {self.head_timeout:g} seconds.",
            )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, code: ErrorCode, detail: str, extra: dict[str, str] | None = None) -> None:
        """Answer with a problem and close — after the answer to a request before this one
        on the connection, when that is still being made (answers go out in order)."""
        self._stop_head_timer()
        self._head_open = False
        if self.transport.is_closing():
            return
        refusal = problem_bytes(code, detail, extra)
        if self.cycle is not None and not self.cycle.response_complete:
            self._refusal = refusal
            self.flow.pause_reading()
            return
        self.transport.write(refusal)
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        refusal, self._refusal = self._refusal, None
        if refusal is not None and not self.transport.is_closing():
            self.transport.write(refusal)
            self.transport.close()


def guarded_protocol(
    max_head_bytes: int, head_timeout: float, max_connections: int, max_per_address: int
) -> type[GuardedHttpProtocol]:
    """The protocol class with this deployment's limits (uvicorn takes a class)."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "head_timeout": head_timeout,
            "max_connections": max_connections,
            "max_per_address": max_per_address,
            "_per_address": Counter(),
        },
    )
