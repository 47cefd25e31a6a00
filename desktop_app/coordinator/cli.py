"""``parley-coordinator``: run the server, or print tokens signed with its secret."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from desktop_app.protocol import ID_PATTERN
from desktop_app.protocol.permissions import Role

from .auth import create_server_token, create_user_token
from .config import ConfigError, CoordinatorConfig, resolve_config
from .turn import TurnConfigError
from .webhooks import webhook_key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley-coordinator", description="The Parley call coordinator."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def add_common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--database", help="SQLAlchemy URL (env PARLEY_DATABASE_URL); default: a SQLite file"
        )
        sub.add_argument(
            "--secret",
            help="token signing secret (env PARLEY_SECRET); default: generated and stored",
        )

    serve = commands.add_parser("serve", help="run the coordinator")
    serve.add_argument("--host", help="address to listen on (env PARLEY_HOST, default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="port (env PARLEY_PORT, default 3000; 0 picks a free one)"
    )
    serve.add_argument(
        "--open-sign-up", action="store_true", default=None, help="allow POST /v1/auth/sign-up"
    )
    serve.add_argument(
        "--grace-seconds", type=float, help="how long a dropped connection stays in its calls"
    )
    serve.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="no request budgets per token and address (load tests; not for deployments)",
    )
    serve.add_argument(
        "--turn-url",
        action="append",
        metavar="URL",
        help="a STUN or TURN server for clients (repeatable; env PARLEY_TURN_URLS, "
        "comma-separated): turn:host:3478, turn:host:3478?transport=tcp, turns:host:5349",
    )
    serve.add_argument(
        "--turn-secret",
        help="the secret shared with the TURN server (coturn's static-auth-secret; "
        "env PARLEY_TURN_SECRET)",
    )
    serve.add_argument(
        "--turn-ttl",
        type=int,
        metavar="SECONDS",
        help="how long minted TURN credentials stay valid (env PARLEY_TURN_TTL, default 86400)",
    )
    serve.add_argument(
        "--janus",
        action="append",
        metavar="URL",
        help="a Janus server (its WebSocket API, ws://host:8188) for calls of three or more "
        "(repeatable; env PARLEY_JANUS_URLS, comma-separated)",
    )
    serve.add_argument(
        "--janus-admin-key",
        metavar="KEY",
        help="the VideoRoom admin_key of those servers (env PARLEY_JANUS_ADMIN_KEY)",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="'warning' also silences the access log",
    )
    add_common(serve)

    key = commands.add_parser(
        "webhook-key", help="print the key webhook receivers verify signatures with"
    )
    add_common(key)
    token = commands.add_parser("token", help="print a token signed with the configured secret")
    token.add_argument("user_id", nargs="?", help="the user the token is for")
    token.add_argument("--ttl", type=int, help="lifetime in seconds (default: no expiry)")
    token.add_argument("--role", choices=[r.value for r in Role], help="role claim")
    token.add_argument(
        "--server", action="store_true", help="a server token instead of a user token"
    )
    add_common(token)
    return parser


def serve(config: CoordinatorConfig, log_level: str = "info") -> None:
    import uvicorn

    from .app import create_app
    from .server import server_config

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if config.secret_path:
        print(f"parley-coordinator: token secret stored in {config.secret_path}", file=sys.stderr)
    print(f"parley-coordinator: database {config.database_url}", file=sys.stderr)
    uvicorn.Server(server_config(create_app(config), config, log_level)).run()


def _refuse(error: Exception) -> int:
    print(f"parley-coordinator: {error}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        try:
            config = resolve_config(
                host=args.host,
                port=args.port,
                database_url=args.database,
                secret=args.secret,
                turn_urls=args.turn_url,
                turn_secret=args.turn_secret,
                turn_ttl=args.turn_ttl,
                janus_urls=args.janus,
                janus_admin_key=args.janus_admin_key,
            )
        except (TurnConfigError, ConfigError) as error:
            return _refuse(error)
        if args.open_sign_up:
            config.open_sign_up = True
        if args.grace_seconds is not None:
            config.participant_grace_seconds = args.grace_seconds
        if args.no_rate_limits:
            config.rate_limits = None
        serve(config, args.log_level)
        return 0
    try:
        config = resolve_config(database_url=args.database, secret=args.secret)
    except (TurnConfigError, ConfigError) as error:
        return _refuse(error)
    if args.command == "webhook-key":
        print(webhook_key(config.secret))
        return 0
    if args.server:
        print(create_server_token(config.secret, args.ttl))
        return 0
    if not args.user_id:
        print("parley-coordinator token: give a USER_ID, or --server", file=sys.stderr)
        return 2
    if not re.fullmatch(ID_PATTERN, args.user_id):
        print(f"parley-coordinator token: {args.user_id!r} is not a valid user id", file=sys.stderr)
        return 2
    print(
        create_user_token(
            config.secret, args.user_id, args.ttl, Role(args.role) if args.role else None
        )
    )
    return 0
