"""Assembling the coordinator: storage, services, routes, error handling, OpenAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from desktop_app.protocol.app import HealthResponse
from desktop_app.protocol.errors import PROBLEM_CONTENT_TYPE, Problem
from desktop_app.protocol.examples import EXAMPLES

from .admin import AdminService
from .auth import TokenVerifier
from .body_guard import BodyGuardMiddleware
from .call_queries import CallQueryService
from .call_type_cache import CallTypeCache, seed_builtin_call_types
from .calls import CallService
from .clock import Clock, SystemClock
from .config import CoordinatorConfig
from .docs_page import render_docs
from .hub import EventHub
from .janus_admin import JanusAdmin
from .media_rooms import MediaRooms
from .members import MemberService
from .presence import PresenceAnnouncer
from .problems import UnexpectedErrorMiddleware, install_problem_handlers
from .rate_limits import AddressLimitMiddleware, RateLimits
from .read_cache import CallCache
from .ringing import RingService
from .routes import admin as admin_routes
from .routes import calls as call_routes
from .routes import ws as ws_routes
from .routes.deps import known_query_only
from .scheduler import Scheduler
from .services import Services
from .sessions import SessionService
from .signalling import SignalRelay
from .state import CoordinatorState
from .store import Store
from .store.engine import is_sqlite
from .watch_access import WatchGuard
from .webhooks import WebhookDispatcher

log = logging.getLogger(__name__)

DESCRIPTION = (
    "The open Parley call protocol: JSON over HTTP, one WebSocket (/v1/ws) for events, "
    "JWT bearer auth (HS256), and RFC 9457 problem details for every error."
)


def package_version() -> str:
    try:
        return version("parley")
    except PackageNotFoundError:
        return "0+unknown"


async def build_state(config: CoordinatorConfig, clock: Clock | None = None) -> CoordinatorState:
    clock = clock or SystemClock()
    store = Store(config.database_url)
    await store.migrate()
    store.start()
    async with store.transaction() as repo:
        await seed_builtin_call_types(repo, clock())
    hub = EventHub()
    scheduler = Scheduler(clock)
    call_types = CallTypeCache()
    # Snapshots are only safe while this process is the database's one writer: always true
    # of SQLite; PostgreSQL deployments may run several nodes, so they read through.
    snapshots = CallCache(enabled=config.read_cache and is_sqlite(config.database_url))
    admin = AdminService(
        store, call_types, snapshots, clock, config.secret, config.open_sign_up, hub.online
    )
    webhooks = WebhookDispatcher(
        config.secret, admin.app_settings, config.webhook_url, config.webhook_retry_delays
    )
    admin.app_listeners.append(webhooks.configure)
    services = Services(
        store, hub, call_types, snapshots, scheduler, clock, admin.app_settings, webhooks
    )
    rooms = MediaRooms(
        JanusAdmin(config.janus_admin_key),
        config.janus_urls,
        config.sfu_back_to_p2p_seconds,
        config.sfu_rotate_grace_seconds,
    )
    sessions = SessionService(services, config.participant_grace_seconds, config.turn, rooms)
    watches = WatchGuard(store, hub, call_types)
    admin.access_listeners.append(watches.recheck)
    rings = RingService(services, sessions)
    tokens = TokenVerifier(config.secret)
    return CoordinatorState(
        config=config,
        store=store,
        hub=hub,
        scheduler=scheduler,
        admin=admin,
        services=services,
        calls=CallService(services, sessions),
        sessions=sessions,
        members=MemberService(services, watches),
        queries=CallQueryService(services),
        tokens=tokens,
        limits=RateLimits(config.rate_limits),
        watches=watches,
        rings=rings,
        signalling=SignalRelay(services),
        presence=PresenceAnnouncer(store, hub, clock),
    )


def create_app(config: CoordinatorConfig, clock: Clock | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await build_state(config, clock)
        app.state.coordinator = state
        await state.services.webhooks.start()
        await state.sessions.restore_timers()
        await state.rings.restore_timers()
        try:
            yield
        finally:
            await state.scheduler.close()
            await state.services.webhooks.close()
            await state.store.close()

    app = FastAPI(
        title="Parley coordinator",
        version=package_version(),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(known_query_only)],
    )
    install_problem_handlers(app)
    app.add_middleware(
        BodyGuardMiddleware, max_bytes=config.max_body_bytes, timeout=config.body_timeout_seconds
    )
    app.add_middleware(AddressLimitMiddleware)  # before the body is even read
    app.add_middleware(UnexpectedErrorMiddleware)  # outermost: it answers for everything

    @app.get("/healthz", response_model=HealthResponse, tags=["meta"], summary="Health")
    async def healthz() -> HealthResponse:
        return HealthResponse(status="ok", version=package_version())

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()))

    app.include_router(call_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(ws_routes.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _finish_openapi(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _schema_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    for option in schema.get("anyOf", []):
        name = _schema_name(option)
        if name:
            return name
    return None


def _attach_examples(op: dict[str, Any]) -> None:
    """Give each JSON request body and success response an example (protocol/examples.py)."""
    media = [op.get("requestBody", {}).get("content", {}).get("application/json")]
    media += [
        response.get("content", {}).get("application/json")
        for code, response in op.get("responses", {}).items()
        if code.startswith("2")
    ]
    for entry in media:
        if entry is None:
            continue
        name = _schema_name(entry.get("schema", {}))
        if name in EXAMPLES:
            entry["example"] = EXAMPLES[name]


def _finish_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """Errors are problem documents, never FastAPI's 422 shape; document that exactly."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in problem_schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas["Problem"] = problem_schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for operations in spec.get("paths", {}).values():
        for op in operations.values():
            _attach_examples(op)
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, operations in spec.get("paths", {}).items():
        for op in operations.values():
            if path.startswith("/v1/") and path != "/v1/auth/sign-up":
                op["security"] = [{"bearer": []}]
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": problem_ref}}
    spec.setdefault("components", {})["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A user token (sub) or a server token (scope: server), HS256.",
        }
    }
    return spec
