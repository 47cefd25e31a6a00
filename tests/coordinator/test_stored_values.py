"""No stored value breaks anyone's reads.

Every write path refuses JSON that could not be stored, read back and sent on as it came
— deep nesting, NaN and infinities, integers no JSON reader holds exactly, NUL characters,
lone surrogates — with a 400 that names the field, and stores nothing; reads, call
queries and ``custom.*`` filters keep answering for everyone. The event WebSocket answers
frames it cannot read with ``connection.error`` and stays open.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.protocol.wire_json import MAX_DEPTH, MAX_SAFE_INTEGER
from tests.support.coordinator import RunningCoordinator, unique

#: JSON texts (as a client could send them) that must never be stored.
BAD_VALUES = {
    "nested 300 deep": "[" * 300 + "]" * 300,
    "nested one level too deep": '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH,
    "NaN": "NaN",
    "Infinity": "-Infinity",
    "an exponent that overflows": "1e400",
    "an integer beyond 2^53": str(MAX_SAFE_INTEGER + 1),
    "a float beyond 2^53": "2.5e16",
    "10^30": "1" + "0" * 30,
    "a lone surrogate": '"\\ud800"',
    "a NUL character": '"a\\u0000b"',
}


async def _raw(api_client: httpx.AsyncClient, method: str, path: str, text: str) -> Any:
    response = await api_client.request(
        method, path, content=text.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_input" and problem["detail"], problem
    return problem


def _writes(path: str, value: str) -> list[tuple[str, str, str, str]]:
    """(who, method, address, body) for every way a user puts free JSON into the store."""
    return [
        ("alice", "PUT", "/v1/users/alice", f'{{"custom": {{"v": {value}}}}}'),
        (
            "server",
            "POST",
            "/v1/users",
            f'{{"users": [{{"id": "alice", "custom": {{"v": {value}}}}}]}}',
        ),
        (
            "alice",
            "POST",
            f"/v1/calls/default/{unique()}",
            f'{{"data": {{"custom": {{"v": {value}}}}}}}',
        ),
        ("alice", "PATCH", path, f'{{"custom": {{"v": {value}}}}}'),
        (
            "alice",
            "POST",
            f"{path}/members",
            f'{{"update_members": [{{"user_id": "bob", "custom": {{"v": {value}}}}}]}}',
        ),
        ("alice", "POST", f"{path}/events", f'{{"custom": {{"v": {value}}}}}'),
        ("alice", "POST", "/v1/calls/query", f'{{"filter": {{"custom.v": {value}}}}}'),
        ("alice", "POST", f"{path}/members/query", f'{{"filter": {{"custom.v": {value}}}}}'),
    ]


async def _everything_reads(coordinator: RunningCoordinator, path: str) -> Any:
    alice, server = coordinator.api("alice"), coordinator.api()
    status, call = await alice.get(path)
    assert status == 200, call
    for api in (alice, server):
        status, found = await api.post("/v1/calls/query", {"filter": {"custom.keep": True}})
        assert status == 200 and found["calls"], found
    status, members = await alice.post(f"{path}/members/query", {"filter": {"custom.n": 1}})
    assert status == 200 and [m["user_id"] for m in members["members"]] == ["bob"]
    status, user = await coordinator.api("bob").get("/v1/users/alice")
    assert status == 200, user
    return call["call"]["custom"], [m["custom"] for m in call["members"]], user["user"]["custom"]


@pytest.fixture
async def call_path(coordinator: RunningCoordinator) -> str:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    status, _ = await alice.put("/v1/users/alice", {"custom": {"mine": "yes"}})
    assert status == 200
    status, _ = await alice.post(
        path,
        {"data": {"custom": {"keep": True}, "members": [{"user_id": "bob", "custom": {"n": 1}}]}},
    )
    assert status == 201
    return path


@pytest.mark.parametrize("kind", list(BAD_VALUES))
async def test_values_that_cannot_be_stored_are_refused_everywhere(
    coordinator: RunningCoordinator, call_path: str, kind: str
) -> None:
    before = await _everything_reads(coordinator, call_path)
    for who, method, address, body in _writes(call_path, BAD_VALUES[kind]):
        api = coordinator.api(None if who == "server" else who)
        problem = await _raw(api.client, method, address, body)
        field = problem["errors"][0]["field"]
        assert field == "body" or "v" in field.split(".") or "custom" in field, (address, problem)
    assert await _everything_reads(coordinator, call_path) == before, "nothing was stored"


@pytest.mark.parametrize(
    "name", ['"a\\u0000b"', '"\\udc00x"'], ids=["NUL in a name", "lone surrogate in a name"]
)
async def test_text_fields_refuse_nul_and_lone_surrogates(
    coordinator: RunningCoordinator, call_path: str, name: str
) -> None:
    alice = coordinator.api("alice")
    problem = await _raw(alice.client, "PUT", "/v1/users/alice", f'{{"name": {name}}}')
    assert problem["errors"][0]["field"] in ("name", "body"), problem
    problem = await _raw(
        alice.client, "POST", "/v1/calls/default/x", f'{{"data": {{"custom": {{{name}: 1}}}}}}'
    )
    status, user = await alice.get("/v1/users/alice")
    assert status == 200 and user["user"]["name"] != "a\x00b"


async def test_the_deepest_value_allowed_is_stored_and_read_back(
    coordinator: RunningCoordinator, call_path: str
) -> None:
    """The limit is a limit, not a guess: MAX_DEPTH levels of the whole body pass."""
    alice = coordinator.api("alice")
    deep: Any = 1
    for _ in range(MAX_DEPTH - 2):  # the body and "custom" are two levels
        deep = {"a": deep}
    status, answer = await alice.patch(call_path, {"custom": deep})
    assert status == 200, answer
    status, call = await alice.get(call_path)
    assert status == 200 and call["call"]["custom"] == deep


async def test_the_event_socket_answers_frames_it_cannot_read_and_stays_open(
    coordinator: RunningCoordinator,
) -> None:
    client = await coordinator.ws("alice")
    for frame in (b"\x00\x01binary", "[" * 30_000, '{"type": "ping", "x": NaN}', "not json"):
        await client._socket.send(frame)
        error = await client.wait_for("connection.error")
        assert error["code"] == "invalid_input" and error["detail"], error
    await client.send({"type": "ping"})
    await client.wait_for("pong")
    await client.close()


async def test_auth_with_a_value_that_cannot_be_stored_is_refused(
    coordinator: RunningCoordinator,
) -> None:
    from tests.support.coordinator import EventClient

    client = EventClient(coordinator.ws_url)
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    first = await client.connect(coordinator.user_token("carol"), {"id": "carol", "custom": deep})
    assert first["type"] == "connection.error" and first["code"] == "invalid_input"
    status, problem = await coordinator.api("alice").get("/v1/users/carol")
    assert status == 404, "carol was not stored"


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: PostgreSQL keeps a number's decimal value, so 2.5e16 may come
    back written as an integer."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        return not isinstance(b, bool) and float(a) == float(b)
    return type(a) is type(b) and a == b


#: Any JSON value a client can send, with the edges of the rule well represented.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=JSON_VALUES)
async def test_any_custom_value_is_stored_whole_or_refused_whole(
    coordinator: RunningCoordinator, call_path: str, value: Any
) -> None:
    """Property: whatever custom data a client sends, the answer is 200 (and it reads back
    equal, and queries on it answer) or 400; never a 5xx, and reads never break."""
    alice = coordinator.api("alice")
    text = json.dumps({"custom": {"keep": True, "v": value}})  # NaN/Infinity as literals
    response = await alice.client.patch(
        call_path, content=text.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 400), response.text[:300]
    status, call = await alice.get(call_path)
    assert status == 200
    if response.status_code == 200:
        assert _same_json(call["call"]["custom"]["v"], value)
    for filter_value in (value, {"$eq": value}):
        body = json.dumps({"filter": {"custom.v": filter_value}})
        found = await alice.client.post(
            "/v1/calls/query", content=body.encode(), headers={"content-type": "application/json"}
        )
        assert found.status_code in (200, 400), found.text[:300]
    await _everything_reads(coordinator, call_path)
