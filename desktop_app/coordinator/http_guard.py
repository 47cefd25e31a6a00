"""What an unauthenticated client can cost, bounded before any route runs.

uvicorn's httptools protocol reads request heads of any size, for as long as a client
cares to trickle them, from as many connections as it opens. This protocol refuses a head
over :attr:`max_head_bytes` (431), closes a connection whose head does not arrive within
:attr:`head_timeout` seconds (408 — a slow-headers attack holds a connection for nothing),
and turns away connections beyond :attr:`max_connections` at once (503, ``Retry-After``).
Each answer is a problem document, then the connection closes.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from desktop_app.protocol import ERROR_STATUS, PROBLEM_CONTENT_TYPE, ErrorCode
from desktop_app.protocol.errors import problem_type_uri

HEAD_END = b"\r\n\r\n"


def problem_bytes(code: ErrorCode, detail: str, extra: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 response carrying a problem, closing the connection."""
    status, title = ERROR_STATUS[code]
    body = json.dumps(
        {
            "type": problem_type_uri(code),
            "title": title,
            "status": status,
            "detail": detail,
            "code": code.value,
        }
    ).encode()
    headers = {
        "content-type": PROBLEM_CONTENT_TYPE,
        "content-length": str(len(body)),
        "connection": "close",
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {title}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


class GuardedHttpProtocol(HttpToolsProtocol):
    max_head_bytes = 16 * 1024
    head_timeout = 10.0
    max_connections = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._tail = b""
        self._head_open = True
        self._head_timer: asyncio.TimerHandle | None = None

    # --- the connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(
                ErrorCode.SERVER_BUSY,
                "The server has as many connections as it takes; try again in a moment.",
                {"retry-after": "1"},
            )
            return
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open and not self._head_fits(data):
            self._refuse(
                ErrorCode.HEADERS_TOO_LARGE,
                f"The request's headers are over {self.max_head_bytes // 1024} KiB.",
            )
            return
        super().data_received(data)

    # --- the head of each request --------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._head_open:  # pipelined before the previous answer went out
            self._start_head()
        elif self._head_timer is None:  # the first byte of the next keep-alive request
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # Count the next head from its first byte; uvicorn's keep-alive timeout covers
            # the idle time before it.
            self._start_head(timed=False)

    def _start_head(self, timed: bool = True) -> None:
        self._head_open = True
        self._head_bytes = 0
        self._tail = b""
        self._stop_head_timer()
        if timed:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _head_fits(self, data: bytes) -> bool:
        """Whether the head still fits, counting only up to its end when it ends here
        (a body may follow in the same chunk)."""
        seen = self._tail + data
        end = seen.find(HEAD_END)
        counted = len(data) if end < 0 else max(0, end + len(HEAD_END) - len(self._tail))
        self._head_bytes += counted
        self._tail = seen[-(len(HEAD_END) - 1) :]
        return self._head_bytes <= self.max_head_bytes

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
        self._stop_head_timer()
        self._head_open = False
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(code, detail, extra))
            self.transport.close()


def guarded_protocol(
    max_head_bytes: int, head_timeout: float, max_connections: int
) -> type[GuardedHttpProtocol]:
    """The protocol class with this deployment's limits (uvicorn takes a class)."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {
            "max_head_bytes": max_head_bytes,
            "head_timeout": head_timeout,
            "max_connections": max_connections,
        },
    )
