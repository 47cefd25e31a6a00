"""How the coordinator is served: uvicorn with the guarded HTTP protocol (:mod:`.http_guard`)
and the WebSocket settings the event stream needs. One place, so that the command line,
the app's local coordinator and the tests run the same server."""

from __future__ import annotations

from typing import Any

import uvicorn

from .config import CoordinatorConfig
from .http_guard import guarded_protocol


def server_options(config: CoordinatorConfig) -> dict[str, Any]:
    """uvicorn's options for this deployment (besides the app, host and port)."""
    return {
        "http": guarded_protocol(
            config.max_header_bytes,
            config.header_timeout_seconds,
            config.max_connections,
            config.max_connections_per_address,
        ),
        "ws_ping_interval": config.ws_idle_timeout_seconds / 3,
        "ws_ping_timeout": config.ws_idle_timeout_seconds * 2 / 3,
        "ws_max_size": 64 * 1024,
        # events are small and frequent: compressing each costs more CPU than it saves
        "ws_per_message_deflate": False,
    }


def server_config(app: Any, config: CoordinatorConfig, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app, host=config.host, port=config.port, log_level=log_level, **server_options(config)
    )
