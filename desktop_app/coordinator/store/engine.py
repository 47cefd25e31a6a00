"""Opening the database: one store for SQLite or PostgreSQL, migrated at start-up.

SQLite is driven synchronously on the event loop. A query on a local SQLite file takes tens
of microseconds, while handing it to a driver thread (aiosqlite) and back costs far more
under load — that round-trip dominated every request. One process owns a SQLite file, so
transactions are simply taken one at a time (an asyncio lock) on one connection, in WAL
mode. PostgreSQL goes through asyncpg with a connection pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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
        cursor.close()

    return engine


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
