"""Opening the database: one store for SQLite or PostgreSQL, migrated at start-up.

SQLite is driven synchronously on the event loop. A query on a local SQLite file takes tens
of microseconds, while handing it to a driver thread (aiosqlite) and back costs far more
under load — that round-trip dominated every request. One process owns a SQLite file, so
transactions are simply taken one at a time (an asyncio lock) on one connection, in WAL
mode. PostgreSQL goes through asyncpg with a connection pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> str:
    """The file of a ``sqlite://`` / ``sqlite+aiosqlite://`` URL ('' for in-memory)."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    return rest[1:] if rest.startswith("/") else rest


def create_sqlite_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # checkpoints (the only fsyncs in WAL mode with synchronous=NORMAL) run in a worker
        # thread instead (Checkpointer), never inside a commit on the event loop
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    return engine


class Checkpointer:
    """Copies the SQLite write-ahead log into the database file from a worker thread,
    every second, without blocking writers (PASSIVE), so the event loop never waits on
    the disk."""

    def __init__(self, path: str, interval_seconds: float = 1.0) -> None:
        self.path = path
        self.interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def _checkpoint(self, mode: str) -> None:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute(f"PRAGMA wal_checkpoint({mode})")
        finally:
            connection.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self._checkpoint, "PASSIVE")
            except sqlite3.Error as exc:
                log.warning("SQLite checkpoint failed: %s", exc)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sqlite-checkpoint")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(sqlite3.Error):
            await asyncio.to_thread(self._checkpoint, "TRUNCATE")


def create_postgres_engine(url: str) -> AsyncEngine:
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
