"""Snapshots never serve stale state: every kind of write shows in the next read."""

from __future__ import annotations

import time

import pytest

from desktop_app.coordinator import auth
from desktop_app.coordinator.call_type_cache import parse_call_type
from desktop_app.coordinator.call_types import builtin_call_types
from desktop_app.coordinator.problems import ApiError
from desktop_app.coordinator.read_cache import CallCache, CallSnapshot
from desktop_app.coordinator.store.rows import CallRow, CallTypeRow
from desktop_app.coordinator.store.types import utcnow
from tests.support.coordinator import RunningCoordinator, unique


def _snapshot(cid: str) -> CallSnapshot:
    now = utcnow()
    definition = builtin_call_types()[0]
    row = CallTypeRow(definition.name, definition.settings.model_dump(), {}, now, now)
    call = CallRow(cid, "default", cid, "u", now, now, {}, True, False)
    return CallSnapshot(call, parse_call_type(row), b"{}", (), {})


def test_a_reader_that_began_before_a_write_cannot_store() -> None:
    cache = CallCache()
    before = cache.generation("default:a")
    cache.invalidate("default:a")  # a write committed while the reader was reading
    cache.put("default:a", _snapshot("default:a"), before)
    assert cache.get("default:a") is None
    cache.put("default:a", _snapshot("default:a"), cache.generation("default:a"))
    assert cache.get("default:a") is not None


def test_clear_refuses_every_reader_in_flight() -> None:
    cache = CallCache()
    before = cache.generation("default:b")
    cache.clear()
    cache.put("default:b", _snapshot("default:b"), before)
    assert cache.get("default:b") is None


def test_eviction_keeps_generations() -> None:
    cache = CallCache(capacity=1)
    stale = cache.generation("default:c")
    cache.invalidate("default:c")
    cache.put("default:c", _snapshot("default:c"), cache.generation("default:c"))
    cache.put("default:d", _snapshot("default:d"), cache.generation("default:d"))  # evicts c
    cache.put("default:c", _snapshot("default:c"), stale)
    assert cache.get("default:c") is None


def test_disabled_cache_stores_nothing() -> None:
    cache = CallCache(enabled=False)
    cache.put("default:e", _snapshot("default:e"), cache.generation("default:e"))
    assert cache.get("default:e") is None


def test_remembered_tokens_still_expire() -> None:
    secret = "k" * 40
    now = [time.time()]
    verifier = auth.TokenVerifier(secret, clock=lambda: now[0])
    token = auth.create_user_token(secret, "ivy", ttl_seconds=60)
    assert verifier.verify(token).user_id == "ivy"
    now[0] += 60 + auth.LEEWAY_SECONDS - 1
    assert verifier.verify(token).user_id == "ivy", "still within exp + leeway"
    now[0] += 2
    with pytest.raises(ApiError) as refused:
        verifier.verify(token)
    assert refused.value.code == "token_expired"


async def test_every_write_shows_in_the_next_read(coordinator: RunningCoordinator) -> None:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    server = coordinator.api()

    async def read() -> dict[str, object]:
        status, body = await alice.get(path)
        assert status == 200
        return dict(body)

    await alice.post(path, {"data": {"members": [{"user_id": "bob"}]}})
    await read()  # cached now
    await alice.patch(path, {"custom": {"v": 1}})
    assert (await read())["call"]["custom"] == {"v": 1}  # type: ignore[index]

    await alice.post(f"{path}/members", {"update_members": [{"user_id": "cy"}]})
    assert {m["user_id"] for m in (await read())["members"]} == {"alice", "bob", "cy"}  # type: ignore[attr-defined]

    ws = await coordinator.ws("alice")
    await alice.post(f"{path}/join", {}, params={"connection_id": ws.connection_id})
    assert (await read())["call"]["session"]["participants_count"] == 1  # type: ignore[index]

    await server.put("/v1/users/alice", {"name": "Alice Renamed"})
    assert (await read())["call"]["created_by"]["name"] == "Alice Renamed"  # type: ignore[index]

    await server.put("/v1/call-types/default", {"settings": {"limits": {"max_participants": 9}}})
    assert (await read())["call"]["settings"]["limits"]["max_participants"] == 9  # type: ignore[index]

    status, get_or_create = await alice.post(path, {})
    assert get_or_create["call"]["settings"]["limits"]["max_participants"] == 9

    await alice.post(f"{path}/go-live")
    assert (await read())["call"]["live"] is True  # type: ignore[index]

    await alice.post(f"{path}/end")
    after_end = await read()
    assert after_end["call"]["ended_at"] is not None  # type: ignore[index]
    assert after_end["call"]["session"]["participants_count"] == 0  # type: ignore[index]
    await ws.close()
