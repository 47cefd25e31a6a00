"""The SDK's line to the coordinator: REST through httpx, events through one WebSocket.

The WebSocket authenticates with its first message, stays alive with WebSocket pings
(answered by the ``websockets`` library on both sides), and when it drops it reconnects
following a :class:`ReconnectPolicy`, resuming the same connection (so its watches and
participant sessions survive) while the coordinator's grace period allows. An expired
token is refreshed through the optional token provider, for REST and for reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
import websockets

from desktop_app.protocol.users import UserResponse

from .errors import (
    ConnectionFailed,
    RateLimited,
    TokenExpired,
    Unauthenticated,
    error_from_problem,
)
from .observable import Observable

#: Tries of one request the server refuses for its budget (429, or 503 when busy).
RATE_LIMIT_ATTEMPTS = 4
#: The longest the SDK waits on its own before passing the refusal on.
RATE_LIMIT_MAX_WAIT = 5.0

#: An idle connection is reused for this long, shorter than the server keeps it (uvicorn:
#: 5 s). With both at 5 s, a request sometimes went out on a connection the server was
#: closing that moment and failed with ``ReadError`` (a join in CI).
KEEPALIVE_SECONDS = 3.0
#: How long ``reachable`` waits for the server's health check.
REACHABLE_SECONDS = 2.0


def _seconds(retry_after: str | None) -> float | None:
    """``Retry-After`` in seconds (this server sends seconds, not dates)."""
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else None
    except ValueError:
        return None


log = logging.getLogger(__name__)

TokenProvider = Callable[[], Awaitable[str]]
EventListener = Callable[[dict[str, Any]], None]


class BearerAuth(httpx.Auth):
    """The user's token on every request; an answer of ``token_expired`` asks the token
    provider for a new one and sends the request once more."""

    def __init__(self, connection: CoordinatorConnection) -> None:
        self.connection = connection

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.connection.current_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self.connection.token_provider is not None:
            await response.aread()  # this flow replaces httpx's own, which would read it
            try:
                code = response.json().get("code")
            except ValueError:
                code = None
            if code == "token_expired":
                token = await self.connection.current_token(refresh=True)
                request.headers["Authorization"] = f"Bearer {token}"
                yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("the SDK's HTTP client is asynchronous")


@dataclass(frozen=True)
class ReconnectPolicy:
    """Delays before each reconnect attempt: the listed ones, then ``then`` seconds each
    time, for at most ``max_attempts`` attempts (None: until closed)."""

    #: Quick at first, then every 2 s for about a minute and a half: a restarted
    #: coordinator is found again within 2 s of coming back, while a call's media (which
    #: does not need the coordinator) goes on meanwhile.
    delays: tuple[float, ...] = (0.0, 0.3, 1.0, 2.0)
    then: float = 2.0
    max_attempts: int | None = 45

    def delay(self, attempt: int) -> float | None:
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return None
        return self.delays[attempt] if attempt < len(self.delays) else self.then


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"  # reconnecting gave up


class CoordinatorConnection:
    def __init__(
        self,
        base_url: str,
        user: dict[str, Any],
        token: str | None = None,
        token_provider: TokenProvider | None = None,
        policy: ReconnectPolicy | None = None,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if token is None and token_provider is None:
            raise ValueError("give a token or a token provider")
        self.base_url = base_url.rstrip("/")
        self.ws_url = (
            self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/ws"
        )
        self.user_details = dict(user)
        self.token = token
        self.token_provider = token_provider
        self.policy = policy or ReconnectPolicy()
        self.state: Observable[ConnectionState] = Observable(ConnectionState.DISCONNECTED)
        self.user: Observable[UserResponse | None] = Observable(None)
        self.connection_id: str | None = None
        self.listeners: list[EventListener] = []
        #: Awaited after a reconnect; the flag says whether the old connection was resumed.
        self.reconnect_listeners: list[Callable[[bool], Awaitable[None]]] = []
        #: ``transport`` is httpx's seam: tests may answer requests without a server.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout_seconds,
            auth=BearerAuth(self),
            transport=transport,
            limits=httpx.Limits(
                max_connections=100,
                max_keepalive_connections=20,
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
        )
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    # --- tokens --------------------------------------------------------------------------

    async def current_token(self, refresh: bool = False) -> str:
        if (refresh or self.token is None) and self.token_provider is not None:
            self.token = await self.token_provider()
        if self.token is None:
            raise Unauthenticated("There is no token to sign in with.", "unauthenticated", 401)
        return self.token

    # --- REST ------------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        """Send a request; answers its JSON, or raises the ``ParleyError`` for its problem.
        Over the server's budget (429, 503 busy), waits as told and tries again, a few
        times while the waits are short: a refused request was not carried out."""
        for attempt in range(RATE_LIMIT_ATTEMPTS):
            try:
                response = await self._http.request(
                    method,
                    path,
                    json=json_body,
                    params={k: v for k, v in (params or {}).items() if v is not None},
                )
            except httpx.HTTPError as exc:
                raise ConnectionFailed(
                    f"The server at {self.base_url} cannot be reached ({exc.__class__.__name__})."
                ) from exc
            if response.status_code < 400:
                return response.json() if response.content else None
            try:
                problem = response.json()
            except ValueError:
                problem = None
            error = error_from_problem(response.status_code, problem)
            if not isinstance(error, RateLimited):
                raise error
            error.retry_after = _seconds(response.headers.get("retry-after"))
            wait = error.retry_after if error.retry_after is not None else 1.0
            if attempt == RATE_LIMIT_ATTEMPTS - 1 or wait > RATE_LIMIT_MAX_WAIT:
                raise error
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def reachable(self) -> bool:
        """Whether the server answers at all (its health check) within
        :data:`REACHABLE_SECONDS`: how a call tells its own network gone from the others'
        gone quiet."""
        try:
            await self._http.get("/healthz", timeout=REACHABLE_SECONDS)
        except httpx.HTTPError:
            return False
        return True

    # --- the event WebSocket ------------------------------------------------------------------

    async def _open_socket(self, resume: str | None) -> dict[str, Any]:
        for attempt in (0, 1):
            token = await self.current_token(refresh=attempt == 1)
            try:
                socket = await websockets.connect(self.ws_url, max_size=2**22)
            except (OSError, websockets.InvalidHandshake) as exc:
                raise ConnectionFailed(f"The server at {self.base_url} cannot be reached.") from exc
            auth: dict[str, Any] = {"type": "auth", "token": token, "user": self.user_details}
            if resume:
                auth["resume_connection_id"] = resume
            await socket.send(json.dumps(auth))
            try:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
            except (TimeoutError, websockets.ConnectionClosed) as exc:
                await socket.close()
                raise ConnectionFailed("The server did not answer the sign-in.") from exc
            if answer.get("type") == "connection.ok":
                self._socket = socket
                return dict(answer)
            await socket.close()
            error = error_from_problem(401 if "token" in str(answer.get("code")) else 403, answer)
            if isinstance(error, TokenExpired) and attempt == 0 and self.token_provider is not None:
                continue
            raise error
        raise AssertionError("unreachable")

    async def open(self) -> UserResponse:
        self._closing = False
        self.state.set(ConnectionState.CONNECTING)
        try:
            answer = await self._open_socket(None)
        except Exception:
            self.state.set(ConnectionState.DISCONNECTED)
            raise
        self._connected(answer)
        user = self.user.value
        assert user is not None
        return user

    def _connected(self, answer: dict[str, Any]) -> None:
        self.connection_id = str(answer["connection_id"])
        self.user.set(UserResponse.model_validate(answer["user"]))
        self.state.set(ConnectionState.CONNECTED)
        self._reader = asyncio.get_running_loop().create_task(
            self._read(self._socket), name="parley-events"
        )

    async def _read(self, socket: Any) -> None:
        try:
            async for raw in socket:
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(message, dict) and message.get("type") not in ("pong", None):
                    log.debug("event %s", message.get("type"))
                    for listener in list(self.listeners):
                        try:
                            listener(message)
                        except Exception:
                            log.exception("event listener failed on %s", message.get("type"))
        except websockets.ConnectionClosed:
            pass
        if not self._closing:
            asyncio.get_running_loop().create_task(self._reconnect(), name="parley-reconnect")

    async def _reconnect(self) -> None:
        self.state.set(ConnectionState.RECONNECTING)
        attempt = 0
        while not self._closing:
            delay = self.policy.delay(attempt)
            if delay is None:
                self.state.set(ConnectionState.OFFLINE)
                return
            await asyncio.sleep(delay)
            attempt += 1
            try:
                answer = await self._open_socket(self.connection_id)
            except (ConnectionFailed, Unauthenticated) as exc:
                log.info("reconnect attempt %d failed: %s", attempt, exc.message)
                continue
            if self._closing:
                await self._socket.close()
                return
            resumed = bool(answer.get("resumed"))
            self._connected(answer)
            for listener in list(self.reconnect_listeners):
                try:
                    await listener(resumed)
                except Exception:
                    log.exception("reconnect listener failed")
            return

    async def send(self, message: dict[str, Any]) -> None:
        """Send a message on the event WebSocket (signals, publish state)."""
        if self._socket is None or self.state.value is not ConnectionState.CONNECTED:
            raise ConnectionFailed("Not connected to the server right now.")
        await self._socket.send(json.dumps(message))

    async def close(self) -> None:
        self._closing = True
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self._http.aclose()
        self.state.set(ConnectionState.DISCONNECTED)
