"""Inputs a client crafts on purpose get the problem the docs promise, never a 500:
cursors with values of the wrong kind on every paged endpoint, filters with a thousand
keys, a 405 that says what is allowed, and a bug that answers 500 without dropping the
keep-alive connection."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from desktop_app.coordinator.app import create_app
from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.coordinator import RunningCoordinator, serve_app, unique


def _cursor(direction: str, fields: list[str], values: list[Any]) -> str:
    payload = json.dumps({"d": direction, "f": fields, "v": values})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


#: Positions no server ever hands out, where a timestamp (or an id) belongs.
CRAFTED = [
    "a string",
    True,
    1.5,
    None,
    1e30,
    10**30,
    {"t": "1"},
    {"t": 10**30},
    {"t": -(10**30)},
    {"t": True},
    [1, 2],
]


@pytest.mark.parametrize("position", CRAFTED, ids=[repr(p)[:20] for p in CRAFTED])
async def test_crafted_cursors_are_invalid_input_on_every_paged_endpoint(
    coordinator: RunningCoordinator, position: Any
) -> None:
    path = f"/v1/calls/default/{unique()}"
    alice = coordinator.api("alice")
    await alice.post(path, {"data": {"members": [{"user_id": "bob"}]}})
    pages = [
        (
            "POST",
            f"{path}/members/query",
            ["created_at", "user_id"],
            [position, "bob"],
        ),
        ("POST", f"{path}/members/query", ["created_at", "user_id"], [{"t": 1}, position]),
        ("POST", "/v1/calls/query", ["created_at", "cid"], [position, "default:x"]),
        ("POST", "/v1/calls/query", ["created_at", "cid"], [{"t": 1}, position]),
        ("GET", "/v1/users", ["id"], [position]),
    ]
    for method, address, fields, values in pages:
        if isinstance(position, str) and values[-1] is position:
            continue  # any text is a position among ids
        for direction in ("next", "prev"):
            if method == "GET" and direction == "prev":
                continue
            cursor = _cursor(direction, fields, values)
            if method == "GET":
                status, problem = await alice.get(address, params={"next": cursor})
            else:
                status, problem = await alice.post(address, {direction: cursor})
            assert status == 400, (address, values, problem)
            assert problem["code"] == "invalid_input"
            assert problem["errors"][0]["field"] == direction, problem


async def test_a_thousand_filter_keys_are_refused(coordinator: RunningCoordinator) -> None:
    alice = coordinator.api("alice")
    many = {f"custom.k{i}": i for i in range(1000)}
    status, problem = await alice.post("/v1/calls/query", {"filter": many})
    assert status == 400 and problem["errors"][0]["field"] == "filter", problem
    operators = {"created_at": {"$gt": "2020-01-01T00:00:00Z", "$lt": "2030-01-01T00:00:00Z"}}
    fine = {**{f"custom.k{i}": i for i in range(30)}, **operators}
    status, answer = await alice.post("/v1/calls/query", {"filter": fine})
    assert status == 200, answer


async def test_method_not_allowed_says_what_is_allowed(coordinator: RunningCoordinator) -> None:
    response = await coordinator.api("alice").client.put("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "GET" in response.headers["allow"]


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> str:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    length = next(
        int(line.split(":", 1)[1])
        for line in head.split("\r\n")
        if line.lower().startswith("content-length")
    )
    await asyncio.wait_for(reader.readexactly(length), 5)
    return head


async def test_a_bug_answers_500_and_keeps_the_connection(tmp_path: Path) -> None:
    config = CoordinatorConfig(database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}", secret="s" * 40)
    app = create_app(config)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    server, task, port = await serve_app(app)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = await _exchange(reader, writer, "/broken")
        assert head.startswith("HTTP/1.1 500"), head
        assert "application/problem+json" in head
        assert "connection: close" not in head.lower()
        head = await _exchange(reader, writer, "/healthz")
        assert head.startswith("HTTP/1.1 200"), "the same connection answers again"
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def test_unknown_query_parameters_are_refused_like_unknown_fields(
    coordinator: RunningCoordinator,
) -> None:
    """A misspelt connection_id must not be silently ignored (the call would not be
    watched and nobody would say why)."""
    alice = coordinator.api("alice")
    status, problem = await alice.post("/v1/calls/query", {}, params={"conection_id": "x"})
    assert status == 400 and problem["errors"][0]["field"] == "conection_id", problem
    assert "connection_id" in problem["detail"], "it says what the operation takes"
    status, _ = await alice.post("/v1/calls/query", {}, params={"watch": "true"})
    assert status == 400
    status, _ = await alice.get("/v1/users", params={"id": "alice", "limit": 5})
    assert status == 200
