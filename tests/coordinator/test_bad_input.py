"""Every class of bad input gets a problem response, never a 500, and changes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.coordinator import RunningCoordinator, unique


async def _snapshot(coordinator: RunningCoordinator, path: str) -> Any:
    status, body = await coordinator.api("alice").get(path)
    assert status == 200
    call = body["call"]
    return {k: call[k] for k in ("custom", "settings", "starts_at", "updated_at")}, body["members"]


@pytest.fixture
async def existing_call(coordinator: RunningCoordinator) -> str:
    path = f"/v1/calls/default/{unique()}"
    status, _ = await coordinator.api("alice").post(
        path, {"data": {"members": [{"user_id": "bob"}], "custom": {"keep": True}}}
    )
    assert status == 201
    return path


def _assert_problem(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["code"] == code
    assert body["status"] == expected_status
    assert body["type"].endswith(code)
    assert body["title"] and body["detail"]
    assert "Traceback" not in json.dumps(body)


BAD_BODIES: list[tuple[str, str, Any, str]] = [
    ("wrong type", "PATCH", {"custom": "not an object"}, "custom"),
    ("unknown field", "PATCH", {"custom": {}, "colour": "red"}, "colour"),
    (
        "unknown nested field",
        "PATCH",
        {"settings_override": {"limits": {"max_people": 3}}},
        "settings_override.limits.max_people",
    ),
    (
        "ring timeout too short",
        "PATCH",
        {"settings_override": {"ring": {"auto_cancel_timeout_ms": 4999}}},
        "settings_override.ring.auto_cancel_timeout_ms",
    ),
    (
        "ring timeout too long",
        "PATCH",
        {"settings_override": {"ring": {"incoming_call_timeout_ms": 180001}}},
        "settings_override.ring.incoming_call_timeout_ms",
    ),
    ("custom over 5 KiB", "PATCH", {"custom": {"blob": "x" * 5200}}, "custom"),
    ("bad date", "PATCH", {"starts_at": "next tuesday"}, "starts_at"),
    (
        "bad member id",
        "POST_MEMBERS",
        {"update_members": [{"user_id": "no spaces"}]},
        "update_members.0.user_id",
    ),
    (
        "bad member role",
        "POST_MEMBERS",
        {"update_members": [{"user_id": "carol", "role": "king"}]},
        "update_members.0.role",
    ),
    (
        "member custom over 5 KiB",
        "POST_MEMBERS",
        {"update_members": [{"user_id": "carol", "custom": {"b": "y" * 6000}}]},
        "update_members.0.custom",
    ),
    ("unknown filter field", "QUERY", {"filter": {"colour": "red"}}, "filter.colour"),
    ("unknown filter operator", "QUERY", {"filter": {"role": {"$regex": "h.*"}}}, "filter.role"),
    (
        "filter value of the wrong type",
        "QUERY",
        {"filter": {"created_at": {"$gt": 12}}},
        "filter.created_at",
    ),
    ("limit over 100", "QUERY", {"limit": 101}, "limit"),
    ("sort on an unsortable field", "QUERY", {"sort": [{"field": "role", "direction": 1}]}, "sort"),
    ("forged cursor", "QUERY", {"next": "bm90LWEtY3Vyc29y"}, "next"),
]


@pytest.mark.parametrize(
    ("case", "kind", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_invalid_bodies_are_refused_and_change_nothing(
    coordinator: RunningCoordinator, existing_call: str, case: str, kind: str, body: Any, field: str
) -> None:
    before = await _snapshot(coordinator, existing_call)
    alice = coordinator.api("alice")
    if kind == "PATCH":
        status, problem = await alice.patch(existing_call, body)
    elif kind == "POST_MEMBERS":
        status, problem = await alice.post(f"{existing_call}/members", body)
    else:
        status, problem = await alice.post(f"{existing_call}/members/query", body)
    _assert_problem(status, problem, 400, "invalid_input")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await _snapshot(coordinator, existing_call) == before


async def test_malformed_json_is_refused(
    coordinator: RunningCoordinator, existing_call: str
) -> None:
    before = await _snapshot(coordinator, existing_call)
    status, problem = await coordinator.api("alice").request(
        "PATCH",
        existing_call,
        content=b'{"custom": {',
        headers={"content-type": "application/json"},
    )
    _assert_problem(status, problem, 400, "invalid_input")
    assert "JSON" in problem["detail"]
    assert await _snapshot(coordinator, existing_call) == before


async def test_oversize_body_is_refused(
    coordinator: RunningCoordinator, existing_call: str
) -> None:
    before = await _snapshot(coordinator, existing_call)
    big = json.dumps({"custom": {"blob": "z" * (1024 * 1024)}}).encode()
    status, problem = await coordinator.api("alice").request(
        "PATCH", existing_call, content=big, headers={"content-type": "application/json"}
    )
    _assert_problem(status, problem, 413, "payload_too_large")

    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    status, problem = await coordinator.api("alice").request(
        "PATCH", existing_call, content=chunks(), headers={"content-type": "application/json"}
    )
    _assert_problem(status, problem, 413, "payload_too_large")
    assert await _snapshot(coordinator, existing_call) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/calls/default/has%20space",
        "/v1/calls/default/" + "a" * 65,
        "/v1/calls/bad%3Atype/x",
        "/v1/calls/default/%C3%A9t%C3%A9",
    ],
)
async def test_ids_outside_the_pattern_are_refused(
    coordinator: RunningCoordinator, path: str
) -> None:
    status, problem = await coordinator.api("alice").post(path, {})
    _assert_problem(status, problem, 400, "invalid_input")
    status, body = await coordinator.api().post("/v1/calls/query", {})
    assert status == 200 and body["calls"] == []


async def test_unknown_call_type_and_call(coordinator: RunningCoordinator) -> None:
    status, problem = await coordinator.api("alice").post("/v1/calls/nosuchtype/x", {})
    _assert_problem(status, problem, 404, "not_found")
    assert "nosuchtype" in problem["detail"]
    status, problem = await coordinator.api("alice").get(f"/v1/calls/default/{unique()}")
    _assert_problem(status, problem, 404, "not_found")


async def test_unknown_route_and_method(coordinator: RunningCoordinator) -> None:
    status, problem = await coordinator.api("alice").get("/v1/nothing-here")
    _assert_problem(status, problem, 404, "not_found")
    status, problem = await coordinator.api("alice").request("PUT", "/v1/calls/query")
    _assert_problem(status, problem, 405, "method_not_allowed")


async def test_duplicate_members_and_conflicting_updates(
    coordinator: RunningCoordinator, existing_call: str
) -> None:
    before = await _snapshot(coordinator, existing_call)
    alice = coordinator.api("alice")
    status, problem = await alice.post(
        f"{existing_call}/members", {"update_members": [{"user_id": "x"}, {"user_id": "x"}]}
    )
    _assert_problem(status, problem, 400, "invalid_input")
    status, problem = await alice.post(
        f"{existing_call}/members",
        {"update_members": [{"user_id": "bob"}], "remove_members": ["bob"]},
    )
    _assert_problem(status, problem, 400, "invalid_input")
    status, problem = await alice.post(f"{existing_call}/members", {})
    _assert_problem(status, problem, 400, "invalid_input")
    status, problem = await alice.post(
        f"/v1/calls/default/{unique()}", {"data": {"members": [{"user_id": "y"}, {"user_id": "y"}]}}
    )
    _assert_problem(status, problem, 400, "invalid_input")
    assert await _snapshot(coordinator, existing_call) == before


async def test_non_json_content_type(coordinator: RunningCoordinator, existing_call: str) -> None:
    async with httpx.AsyncClient(base_url=coordinator.base_url) as client:
        response = await client.patch(
            existing_call,
            content=b"custom=1",
            headers={
                "Authorization": f"Bearer {coordinator.user_token('alice')}",
                "content-type": "application/x-www-form-urlencoded",
            },
        )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"
    assert response.json()["detail"] == "The request body must be a JSON object."
