"""Coordinator settings: command line, environment, and the defaults a first start needs.

The precedence is flag > environment (``PARLEY_*``) > default. With no database the
coordinator uses a SQLite file in the user data directory; with no secret it creates one
beside that file, readable by its owner only, so that tokens survive restarts.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .turn import TurnConfigError, TurnSettings, turn_settings

APP_NAME = "parley"
JANUS_URL_SCHEMES = ("ws://", "wss://")


class ConfigError(ValueError):
    """A setting that cannot work (the message says which, and why)."""

SECRET_FILE_NAME = "coordinator-secret"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'coordinator.sqlite3'}"


@dataclass(frozen=True)
class RateLimitSettings:
    """Request budgets in the ``limits`` notation: ``"30/second;600/minute"`` is a burst of
    30 in any second and 600 in any minute (10 a second, sustained)."""

    user: str = "30/second;600/minute"
    server: str = "300/second;6000/minute"
    address: str = "100/second;3000/minute"


@dataclass
class CoordinatorConfig:
    host: str = "127.0.0.1"
    port: int = 3000
    database_url: str = ""
    secret: str = ""
    #: Where a generated secret was stored ("" when the secret was given).
    secret_path: str = ""
    data_dir: Path = field(default_factory=default_data_dir)
    #: How long a dropped WebSocket keeps its participant sessions before they leave.
    participant_grace_seconds: float = 15.0
    #: How long a connection may stay silent (no message, no pong) before it is closed.
    ws_idle_timeout_seconds: float = 45.0
    #: Allow ``POST /v1/auth/sign-up`` (overrides the stored app setting when not None).
    open_sign_up: bool | None = None
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 1024 * 1024
    #: A request's head (request line and headers) at most; beyond it, 431.
    max_header_bytes: int = 16 * 1024
    #: Seconds a request's head may take to arrive (slow clients hold connections).
    header_timeout_seconds: float = 10.0
    #: Open connections (HTTP and WebSocket) at most, in all and from one address (an
    #: IPv6 /64); beyond either, 503 at once.
    max_connections: int = 10_000
    max_connections_per_address: int = 256
    #: Seconds a request's body may take to arrive, once its head is in.
    body_timeout_seconds: float = 30.0
    #: Request budgets per caller and per address (None: no limits).
    rate_limits: RateLimitSettings | None = field(default_factory=RateLimitSettings)
    #: Serve reads of calls from in-process snapshots (read_cache.py). Only correct while
    #: this process is the only coordinator writing to the database.
    read_cache: bool = True
    #: Where webhooks go when the stored app settings name no URL (PARLEY_WEBHOOK_URL).
    webhook_url: str | None = None
    #: Delays between webhook delivery attempts (tests shorten them).
    webhook_retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0)
    #: STUN/TURN servers handed to every join, with minted TURN credentials (turn.py).
    turn: TurnSettings = field(default_factory=TurnSettings)
    #: Janus servers (WebSocket URLs) for calls of three or more (media_rooms.py).
    janus_urls: list[str] = field(default_factory=list)
    #: The VideoRoom ``admin_key`` those servers are configured with.
    janus_admin_key: str | None = None
    #: How long a call back at two stays on the SFU before it returns to peer to peer.
    sfu_back_to_p2p_seconds: float = 10.0
    #: How long a room the call moved away from (someone left) lives on for the switch.
    sfu_rotate_grace_seconds: float = 12.0


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _int(text: str | None, name: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise TurnConfigError(f"{name} must be a whole number of seconds, not {text!r}.") from None


def resolve_config(
    host: str | None = None,
    port: int | None = None,
    database_url: str | None = None,
    secret: str | None = None,
    data_dir: Path | None = None,
    turn_urls: list[str] | None = None,
    turn_secret: str | None = None,
    turn_ttl: int | None = None,
    janus_urls: list[str] | None = None,
    janus_admin_key: str | None = None,
) -> CoordinatorConfig:
    """Fill a config from arguments, then ``PARLEY_*`` variables, then defaults (a
    :class:`~.turn.TurnConfigError` for STUN/TURN settings that cannot work)."""
    config = CoordinatorConfig()
    config.data_dir = data_dir or Path(_env("PARLEY_DATA_DIR") or default_data_dir())
    config.host = host or _env("PARLEY_HOST") or config.host
    port_text = _env("PARLEY_PORT")
    config.port = port if port is not None else int(port_text) if port_text else config.port
    config.database_url = (
        database_url or _env("PARLEY_DATABASE_URL") or default_database_url(config.data_dir)
    )
    config.webhook_url = _env("PARLEY_WEBHOOK_URL")
    ttl_text = _env("PARLEY_TURN_TTL")
    config.turn = turn_settings(
        turn_urls or (_env("PARLEY_TURN_URLS") or "").split(","),
        turn_secret or _env("PARLEY_TURN_SECRET"),
        turn_ttl if turn_ttl is not None else _int(ttl_text, "PARLEY_TURN_TTL"),
    )
    config.janus_urls = janus_servers(janus_urls or (_env("PARLEY_JANUS_URLS") or "").split(","))
    config.janus_admin_key = janus_admin_key or _env("PARLEY_JANUS_ADMIN_KEY")
    given_secret = secret or _env("PARLEY_SECRET")
    if given_secret:
        config.secret = given_secret
    else:
        path = config.data_dir / SECRET_FILE_NAME
        config.secret = load_or_create_secret(path)
        config.secret_path = str(path)
    return config


def janus_servers(urls: list[str]) -> list[str]:
    """The Janus WebSocket URLs given, without blanks and repeats (``ConfigError`` for one
    that is not ws:// or wss://)."""
    chosen: list[str] = []
    for url in (u.strip() for u in urls):
        if not url:
            continue
        if not url.startswith(JANUS_URL_SCHEMES) or len(url) <= len("wss://"):
            raise ConfigError(f"A Janus server is a ws:// or wss:// URL, not {url!r}.")
        if url not in chosen:
            chosen.append(url)
    return chosen


def load_or_create_secret(path: Path) -> str:
    """Read the stored secret, or create one that only the owner can read."""
    if path.exists():
        text = path.read_text().strip()
        if text:
            return text
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    os.chmod(path, 0o600)
    return value
