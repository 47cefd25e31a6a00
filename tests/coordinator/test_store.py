"""Storage: the migrations build exactly the tables the code uses; state survives restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from desktop_app.coordinator.config import CoordinatorConfig
from desktop_app.coordinator.store import Store
from desktop_app.coordinator.store.repository import wrote_in_this_task
from desktop_app.coordinator.store.rows import UserRow
from desktop_app.coordinator.store.schema import metadata
from desktop_app.coordinator.store.types import from_micros, to_micros, utcnow
from tests.support.coordinator import running, unique


async def test_migrations_match_the_schema(database_url: str) -> None:
    store = Store(database_url)
    await store.migrate()
    await store.migrate()  # idempotent

    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    differences = await store.run_sync(diff)
    await store.close()
    relevant = [
        d
        for d in differences
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
    ]
    assert relevant == []


def test_timestamps_round_trip_exactly() -> None:
    now = utcnow()
    assert from_micros(to_micros(now)) == now
    assert to_micros(from_micros(1_795_266_390_123_456)) == 1_795_266_390_123_456


async def test_state_survives_a_restart(config: CoordinatorConfig, tmp_path: Path) -> None:
    call_id = unique()
    path = f"/v1/calls/default/{call_id}"
    async with running(config) as first:
        await first.api().post(
            "/v1/call-types", {"name": "kept", "settings": {"limits": {"max_participants": 5}}}
        )
        await first.api().patch("/v1/app", {"webhook_url": "https://h.example.org/kept"})
        await first.api("alice").post(
            path,
            {"data": {"members": [{"user_id": "bob", "custom": {"k": 1}}], "custom": {"c": 2}}},
        )
        ws = await first.ws("alice")
        await first.api("alice").post(
            f"{path}/join", {}, params={"connection_id": ws.connection_id}
        )
        await ws.close()
    config.participant_grace_seconds = 2.0  # time for the watcher below to connect first
    async with running(config) as second:
        status, body = await second.api("alice").get(path)
        assert status == 200
        assert body["call"]["custom"] == {"c": 2}
        assert {m["user_id"]: m["custom"] for m in body["members"]} == {
            "alice": {},
            "bob": {"k": 1},
        }
        status, kept = await second.api().get("/v1/call-types/kept")
        assert kept["settings"]["limits"]["max_participants"] == 5
        status, app = await second.api().get("/v1/app")
        assert app["app"]["webhook_url"] == "https://h.example.org/kept"
        # the participant whose connection died with the old process leaves after the grace period
        watcher = await second.ws("bob")
        await second.api("bob").get(path, params={"connection_id": watcher.connection_id})
        left = await watcher.wait_for("call.participant_left", timeout=5)
        assert left["participant"]["user_id"] == "alice" and left["reason"] == "disconnected"
        await watcher.wait_for("call.session_ended")
        await watcher.close()


async def test_sqlite_checkpoints_happen_off_the_event_loop(tmp_path: Path) -> None:
    """Commits never copy the write-ahead log into the database (that fsyncs); the worker
    thread does, so the file grows only once the checkpointer runs."""
    import asyncio

    from desktop_app.coordinator.store.rows import UserRow

    database = tmp_path / "c.sqlite3"
    store = Store(f"sqlite:///{database}")
    await store.migrate()
    before = database.stat().st_size
    now = utcnow()
    async with store.transaction() as repo:
        for i in range(2000):
            await repo.insert_user_if_missing(
                UserRow(id=f"u{i}", role="user", created_at=now, updated_at=now)
            )
    assert database.stat().st_size == before, "a commit checkpointed on the event loop"
    assert store._checkpointer is not None
    store._checkpointer.interval = 0.05
    store.start()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if database.stat().st_size > before:
            break
    assert database.stat().st_size > before, "the checkpointer copied the log into the file"
    await store.close()


async def test_a_failure_before_commit_rolls_the_write_back_and_says_so(
    database_url: str,
) -> None:
    """``before_commit`` runs inside the transaction (the outbox serializes its events
    there): what it raises undoes the write. Only a committed change marks the task, which
    is what lets a 500 say truthfully whether anything was changed."""
    store = Store(database_url)
    await store.migrate()
    now = utcnow()

    def failing() -> None:
        raise RuntimeError("an event that cannot be sent")

    async def refused_write() -> bool:
        try:
            async with store.transaction(before_commit=failing) as repo:
                await repo.insert_user_if_missing(
                    UserRow(id="ghost", role="user", created_at=now, updated_at=now)
                )
        except RuntimeError:
            pass
        return wrote_in_this_task()

    async def read_only() -> bool:
        async with store.transaction() as repo:
            await repo.get_user("ghost")
        return wrote_in_this_task()

    async def real_write() -> bool:
        async with store.transaction() as repo:
            await repo.insert_user_if_missing(
                UserRow(id="kept", role="user", created_at=now, updated_at=now)
            )
        return wrote_in_this_task()

    # each in a task of its own, as each request is
    assert await asyncio.create_task(refused_write()) is False
    assert await asyncio.create_task(read_only()) is False
    assert await asyncio.create_task(real_write()) is True
    async with store.transaction() as repo:
        assert await repo.get_user("ghost") is None, "the refused write was rolled back"
        assert await repo.get_user("kept") is not None
    await store.close()
