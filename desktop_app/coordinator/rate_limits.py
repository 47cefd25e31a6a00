"""Rate limits: one flood must not slow everyone else down.

Two budgets, counted with the ``limits`` library (sliding-window counters, in memory; its
Redis storage serves several nodes): **per address** for every request and WebSocket
handshake, checked before anything else runs — what an unauthenticated client can spend —
and **per caller** once the token is verified (a user, or the deployment's server tokens,
which get more). Keying the caller budget on the verified principal means that random
tokens cannot open fresh budgets. Over budget is a ``rate_limited`` problem (429) with
``Retry-After``; the SDK waits that long and tries again.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from desktop_app.protocol import ErrorCode

from .auth import Principal
from .config import RateLimitSettings
from .http_guard import address_key
from .problems import ApiError, problem_response


class RateLimits:
    def __init__(self, settings: RateLimitSettings | None, storage: Storage | None = None) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage or MemoryStorage())
        self._user: list[RateLimitItem] = parse_many(settings.user) if settings else []
        self._server: list[RateLimitItem] = parse_many(settings.server) if settings else []
        self._address: list[RateLimitItem] = parse_many(settings.address) if settings else []

    async def charge_address(self, address: str) -> None:
        await self._charge(self._address, "address", address)

    async def charge(self, principal: Principal) -> None:
        if principal.is_server:
            await self._charge(self._server, "server", "server")
        else:
            await self.charge_user(principal.user_id or "")

    async def charge_user(self, user_id: str) -> None:
        """A user's request or WebSocket message: one budget for both."""
        await self._charge(self._user, "user", user_id)

    async def _charge(self, items: list[RateLimitItem], kind: str, key: str) -> None:
        for item in items:
            if not await self._limiter.hit(item, kind, key):
                stats = await self._limiter.get_window_stats(item, kind, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                who = "from this address" if kind == "address" else "for this token"
                raise ApiError(
                    ErrorCode.RATE_LIMITED,
                    f"Too many requests {who} ({item.amount} per {_span(item)}); "
                    f"try again in {wait} s.",
                    headers={"Retry-After": str(wait)},
                )


def _span(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


class AddressLimitMiddleware:
    """Charges every request and WebSocket handshake to its address before any other
    work (body, token, route) is done for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope.get("app"), "state", None)
        coordinator = getattr(state, "coordinator", None) if state is not None else None
        if scope["type"] not in ("http", "websocket") or coordinator is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        try:
            await coordinator.limits.charge_address(address_key(client[0]) if client else "?")
        except ApiError as error:
            if scope["type"] == "http":
                await problem_response(error)(scope, receive, send)
            else:  # refused before accept: the client sees HTTP 403
                await send({"type": "websocket.close", "code": 1008})
            return
        await self.app(scope, receive, send)
