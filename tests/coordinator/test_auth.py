"""Bearer tokens: every way a token can be wrong gets the precise problem code."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from tests.support.coordinator import SECRET, RunningCoordinator, unique


def _unsigned(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_TOKENS = {
    "garbage": ("not-a-jwt", "unauthenticated"),
    "bad signature": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time())},
            "another-secret-of-thirty-two-bytes!!",
            algorithm="HS256",
        ),
        "unauthenticated",
    ),
    "alg none": (_unsigned({"sub": "alice", "iat": int(time.time())}), "unauthenticated"),
    "HS512": (
        jwt.encode({"sub": "alice", "iat": int(time.time())}, SECRET * 2, algorithm="HS512"),
        "unauthenticated",
    ),
    "expired": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()) - 100, "exp": int(time.time()) - 60},
            SECRET,
            algorithm="HS256",
        ),
        "token_expired",
    ),
    "no iat": (jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"), "unauthenticated"),
    "bad sub": (
        jwt.encode({"sub": "al ice", "iat": int(time.time())}, SECRET, algorithm="HS256"),
        "unauthenticated",
    ),
    "unknown role": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()), "role": "emperor"}, SECRET, algorithm="HS256"
        ),
        "unauthenticated",
    ),
    # RFC 8725: time claims are numbers, and a token is not from the future
    "iat an hour ahead": (
        jwt.encode({"sub": "alice", "iat": int(time.time()) + 3600}, SECRET, algorithm="HS256"),
        "unauthenticated",
    ),
    "iat ten years ahead": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()) + 10 * 365 * 86400}, SECRET, algorithm="HS256"
        ),
        "unauthenticated",
    ),
    "iat not a number": (
        jwt.encode({"sub": "alice", "iat": "yesterday"}, SECRET, algorithm="HS256"),
        "unauthenticated",
    ),
    "iat true": (
        jwt.encode({"sub": "alice", "iat": True}, SECRET, algorithm="HS256"),
        "unauthenticated",
    ),
    "exp NaN (never expires)": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()), "exp": float("nan")},
            SECRET,
            algorithm="HS256",
        ),
        "unauthenticated",
    ),
    "exp Infinity": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()), "exp": float("inf")},
            SECRET,
            algorithm="HS256",
        ),
        "unauthenticated",
    ),
    "nbf an hour ahead": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()), "nbf": int(time.time()) + 3600},
            SECRET,
            algorithm="HS256",
        ),
        "unauthenticated",
    ),
    "call_cids (not supported)": (
        jwt.encode(
            {"sub": "alice", "iat": int(time.time()), "call_cids": ["default:x"]},
            SECRET,
            algorithm="HS256",
        ),
        "unauthenticated",
    ),
    "neither user nor server": (
        jwt.encode({"iat": int(time.time())}, SECRET, algorithm="HS256"),
        "unauthenticated",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
async def test_bad_tokens_are_refused(coordinator: RunningCoordinator, case: str) -> None:
    token, code = BAD_TOKENS[case]
    status, problem = await coordinator.api(token=token).post(f"/v1/calls/default/{unique()}", {})
    assert status == 401 and problem["code"] == code, problem
    status, body = await coordinator.api().post("/v1/calls/query", {})
    assert body["calls"] == [], "nothing was created"


async def test_missing_and_malformed_headers(coordinator: RunningCoordinator) -> None:
    client = coordinator.api("alice").client
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        client.headers.pop("Authorization", None)
        client.headers.update(headers)
        response = await client.get("/v1/users")
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_on_websocket(coordinator: RunningCoordinator) -> None:
    from tests.support.coordinator import EventClient

    expired = BAD_TOKENS["expired"][0]
    client = EventClient(coordinator.ws_url)
    answer = await client.connect(expired, {"id": "alice"})
    assert answer == {
        "type": "connection.error",
        "code": "token_expired",
        "detail": answer["detail"],
    }
    await client.close()


async def test_user_token_cannot_act_as_someone_else(coordinator: RunningCoordinator) -> None:
    status, problem = await coordinator.api("alice").post(
        f"/v1/calls/default/{unique()}", {"data": {"created_by_id": "bob"}}
    )
    assert status == 403 and problem["code"] == "not_allowed"
    status, problem = await coordinator.api("alice").put("/v1/users/bob", {"name": "Not Bob"})
    assert status == 403 and problem["code"] == "not_allowed"
    from tests.support.coordinator import EventClient

    client = EventClient(coordinator.ws_url)
    answer = await client.connect(coordinator.user_token("alice"), {"id": "bob"})
    assert answer["type"] == "connection.error" and answer["code"] == "not_allowed"
    await client.close()


async def test_server_token_acts_for_a_user(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    call_id = unique()
    status, problem = await server.post(f"/v1/calls/default/{call_id}", {})
    assert status == 400 and problem["errors"][0]["field"] == "data.created_by_id"
    status, body = await server.post(
        f"/v1/calls/default/{call_id}", {"data": {"created_by_id": "carol"}}
    )
    assert status == 201
    assert body["call"]["created_by"]["id"] == "carol"
    assert body["members"][0]["user_id"] == "carol" and body["members"][0]["role"] == "host"
    assert set(body["own_capabilities"]) >= {"end-call", "delete-call", "join-ended-call"}
    status, problem = await server.post(f"/v1/calls/default/{call_id}/join", {})
    assert status == 403 and problem["code"] == "not_allowed"


async def test_server_token_cannot_open_an_event_connection(
    coordinator: RunningCoordinator,
) -> None:
    from tests.support.coordinator import EventClient

    client = EventClient(coordinator.ws_url)
    answer = await client.connect(coordinator.server_token(), None)
    assert answer["type"] == "connection.error" and answer["code"] == "not_allowed"
    await client.close()


async def test_small_clock_skew_is_allowed(coordinator: RunningCoordinator) -> None:
    """An issuer whose clock runs a few seconds ahead still gets its fresh tokens taken."""
    ahead = jwt.encode({"sub": "alice", "iat": int(time.time()) + 5}, SECRET, algorithm="HS256")
    status, _ = await coordinator.api(token=ahead).post(f"/v1/calls/default/{unique()}", {})
    assert status == 201
