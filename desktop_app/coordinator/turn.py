"""ICE servers for a join: STUN/TURN URLs from the deployment, with TURN credentials minted
for the participant and valid for a bounded time.

The scheme is the one coturn implements as ``use-auth-secret`` / ``static-auth-secret``
(the "TURN REST API"): the username is ``<expiry>:<user id>`` (expiry in Unix seconds) and
the password is base64(HMAC-SHA1(secret, username)). coturn checks both without asking
anyone, so the coordinator and the TURN server share only the secret, and a credential
that leaks stops working at its expiry.

coturn checks the expiry on every request that carries the credential — allocation
refreshes too — so a credential must outlive the call: it is valid for the deployment's
TTL (default one day) or the call's duration limit, whichever is longer.

Pure functions; the configuration comes from ``serve --turn-url/--turn-secret/--turn-ttl``
or ``PARLEY_TURN_URLS`` / ``PARLEY_TURN_SECRET`` / ``PARLEY_TURN_TTL``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from desktop_app.protocol.calls import IceServer
from desktop_app.protocol.ice_urls import parse_ice_url

DEFAULT_TTL_SECONDS = 86_400


class TurnConfigError(ValueError):
    """A STUN/TURN setting that cannot work (the message says which and why)."""


@dataclass(frozen=True)
class TurnSettings:
    urls: tuple[str, ...] = ()
    secret: str = ""
    ttl_seconds: int = DEFAULT_TTL_SECONDS

    @property
    def turn_urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.urls if u.startswith("turn"))

    @property
    def stun_urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.urls if u.startswith("stun"))


def check_url(url: str) -> str:
    parsed = parse_ice_url(url)
    if parsed is None:
        raise TurnConfigError(
            f"{url!r} is not a STUN or TURN URL "
            "(turn:host[:port][?transport=udp|tcp], turns:…, stun:host[:port])."
        )
    if parsed.transport_given and not parsed.is_turn:
        raise TurnConfigError(f"{url!r}: a STUN URL takes no transport.")
    if not 0 < parsed.port < 65536:
        raise TurnConfigError(f"{url!r}: the port must be between 1 and 65535.")
    return url


def turn_settings(urls: list[str], secret: str | None, ttl_seconds: int | None) -> TurnSettings:
    """Checked settings: TURN URLs need the secret, and a secret without TURN is a mistake."""
    settings = TurnSettings(
        urls=tuple(check_url(u.strip()) for u in urls if u.strip()),
        secret=secret or "",
        ttl_seconds=DEFAULT_TTL_SECONDS if ttl_seconds is None else ttl_seconds,
    )
    if settings.turn_urls and not settings.secret:
        raise TurnConfigError(
            "TURN URLs need the secret shared with the TURN server (--turn-secret or "
            "PARLEY_TURN_SECRET; coturn's static-auth-secret)."
        )
    if settings.secret and not settings.turn_urls:
        raise TurnConfigError("A TURN secret was given but no turn: URL (--turn-url).")
    if settings.ttl_seconds < 60:
        raise TurnConfigError("TURN credentials must live at least 60 seconds (--turn-ttl).")
    return settings


def turn_credential(secret: str, user_id: str, expires: int) -> tuple[str, str]:
    """(username, password) for ``user_id`` until ``expires`` (Unix seconds)."""
    username = f"{expires}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers_for(
    settings: TurnSettings, user_id: str, now: datetime, call_limit_seconds: int | None = None
) -> list[IceServer]:
    """The deployment's STUN servers, and its TURN servers with a credential for this user."""
    servers: list[IceServer] = []
    if settings.turn_urls:
        lifetime = max(settings.ttl_seconds, call_limit_seconds or 0)
        username, password = turn_credential(
            settings.secret, user_id, int(now.timestamp()) + lifetime
        )
        servers.append(
            IceServer(urls=list(settings.turn_urls), username=username, credential=password)
        )
    if settings.stun_urls:
        servers.append(IceServer(urls=list(settings.stun_urls)))
    return servers
