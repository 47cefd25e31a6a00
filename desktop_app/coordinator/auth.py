"""Bearer tokens: HS256 JWTs signed with the deployment's secret.

A *user token* names its user in ``sub``; a *server token* carries ``"scope": "server"``
and may act for any user. Only HS256 is accepted: ``alg: none`` and every other algorithm
are refused before the signature is looked at. The time claims follow RFC 8725's advice:
``iat`` is required, and ``iat``, ``exp`` and ``nbf`` must be finite numbers, checked
against the clock with :data:`LEEWAY_SECONDS` of skew allowed either way (a token issued
in the future, or not valid yet, is refused like an expired one is).
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from desktop_app.protocol import ErrorCode
from desktop_app.protocol.ids import ID_PATTERN
from desktop_app.protocol.permissions import Role

from .problems import ApiError

ALGORITHM = "HS256"
SERVER_SCOPE = "server"


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user, or the deployment's own server."""

    user_id: str | None
    is_server: bool = False
    role: Role | None = None


def create_user_token(
    secret: str, user_id: str, ttl_seconds: int | None = None, role: Role | None = None
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "iat": now}
    if ttl_seconds is not None:
        claims["exp"] = now + ttl_seconds
    if role is not None:
        claims["role"] = role.value
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def create_server_token(secret: str, ttl_seconds: int | None = None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"scope": SERVER_SCOPE, "iat": now}
    if ttl_seconds is not None:
        claims["exp"] = now + ttl_seconds
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _unauthenticated(detail: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHENTICATED, detail)


#: Clock skew allowed between the token's issuer and this server.
LEEWAY_SECONDS = 10


def _time_claim(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise _unauthenticated(f"The token's {name!r} claim is not a time (seconds since 1970).")
    return float(value)


def verify_token(secret: str, token: str, now: float | None = None) -> Principal:
    """Check a token and say whom it is for; raises ``ApiError`` with the precise reason."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _unauthenticated("The token is not a valid JWT.") from None
    if header.get("alg") != ALGORITHM:
        raise _unauthenticated(
            f"The token is signed with {header.get('alg')!r}; only HS256 is accepted."
        )
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "require": ["iat"],
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,  # checked below, with the leeway
            },
        )
    except jwt.InvalidSignatureError:
        raise _unauthenticated("The token's signature does not match this server.") from None
    except jwt.MissingRequiredClaimError as exc:
        raise _unauthenticated(f"The token lacks the {exc.claim!r} claim.") from None
    except jwt.PyJWTError:
        raise _unauthenticated("The token could not be verified.") from None
    at = time.time() if now is None else now
    issued = _time_claim(claims, "iat")
    assert issued is not None  # required above
    if issued > at + LEEWAY_SECONDS:
        raise _unauthenticated("The token was issued in the future; check the issuer's clock.")
    not_before = _time_claim(claims, "nbf")
    if not_before is not None and at < not_before - LEEWAY_SECONDS:
        raise _unauthenticated("The token is not valid yet ('nbf').")
    expires = _time_claim(claims, "exp")
    if expires is not None and at > expires + LEEWAY_SECONDS:
        raise ApiError(ErrorCode.TOKEN_EXPIRED, "The token has expired; get a new one.")
    return _principal_from_claims(claims)


class TokenVerifier:
    """``verify_token`` with a memory of tokens already verified.

    Apps send the same token with every request; checking its signature once is enough. A
    remembered token is still refused once its ``exp`` has passed.
    """

    def __init__(
        self, secret: str, capacity: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self.capacity = capacity
        self.clock = clock
        self._known: OrderedDict[str, tuple[Principal, float | None]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        now = self.clock()
        known = self._known.get(token)
        if known is not None:
            principal, expires = known
            if expires is None or now <= expires:
                return principal
            del self._known[token]
        principal = verify_token(self.secret, token, now)
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        expires = float(exp) + LEEWAY_SECONDS if isinstance(exp, int | float) else None
        self._known[token] = (principal, expires)
        if len(self._known) > self.capacity:
            self._known.popitem(last=False)
        return principal


def _principal_from_claims(claims: dict[str, Any]) -> Principal:
    if claims.get("scope") == SERVER_SCOPE:
        return Principal(user_id=None, is_server=True)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not re.fullmatch(ID_PATTERN, sub):
        raise _unauthenticated("The token's 'sub' claim is not a valid user id.")
    role: Role | None = None
    raw_role = claims.get("role")
    if raw_role is not None:
        try:
            role = Role(raw_role)
        except ValueError:
            raise _unauthenticated(f"The token's role {raw_role!r} is not a known role.") from None
    if "call_cids" in claims:
        # A token that says which calls it is for expects to be held to them; this server
        # does not scope tokens to calls, so it refuses rather than grant more than meant.
        raise _unauthenticated("Tokens scoped to calls ('call_cids') are not supported.")
    return Principal(user_id=sub, role=role)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise _unauthenticated("This request needs an 'Authorization: Bearer <token>' header.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return token.strip()
