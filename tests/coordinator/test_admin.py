"""Users, call types, deployment settings and open sign-up."""

from __future__ import annotations

from tests.support.coordinator import RunningCoordinator, unique


async def test_upsert_and_query_users(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    status, body = await server.post(
        "/v1/users",
        {
            "users": [
                {
                    "id": "ann",
                    "name": "Ann",
                    "role": "moderator",
                    "teams": ["a"],
                    "custom": {"k": 1},
                },
                {"id": "ben"},
            ]
        },
    )
    assert status == 200 and [u["id"] for u in body["users"]] == ["ann", "ben"]
    status, body = await server.post(
        "/v1/users", {"users": [{"id": "ann", "image": "https://img/ann.png"}]}
    )
    ann = body["users"][0]
    assert (
        ann["name"] == "Ann"
        and ann["role"] == "moderator"
        and ann["image"] == "https://img/ann.png"
    ), "fields left out stay"

    status, problem = await coordinator.api("ann").post("/v1/users", {"users": [{"id": "x"}]})
    assert status == 403

    status, body = await coordinator.api("ben").get("/v1/users", params={"id": ["ann", "ben"]})
    assert [u["id"] for u in body["users"]] == ["ann", "ben"]
    status, body = await coordinator.api("ben").get("/v1/users/ann")
    assert body["user"]["teams"] == [], "others' teams are not everyone's business"
    for api in (coordinator.api("ann"), server):
        status, body = await api.get("/v1/users/ann")
        assert body["user"]["teams"] == ["a"], "the user and the server see them"
    status, body = await coordinator.api("ben").get("/v1/users", params={"id": ["ann"]})
    assert body["users"][0]["teams"] == []
    status, problem = await coordinator.api("ben").get("/v1/users/nobody")
    assert status == 404

    status, body = await coordinator.api("ben").put("/v1/users/ben", {"name": "Benjamin"})
    assert status == 200 and body["user"]["name"] == "Benjamin"
    status, problem = await coordinator.api("ben").put("/v1/users/ben", {"role": "admin"})
    assert status == 403, "users cannot promote themselves"


async def test_users_listing_pages(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    await server.post("/v1/users", {"users": [{"id": f"pg{i:02d}"} for i in range(7)]})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["next"] = cursor
        status, body = await server.get("/v1/users", params=params)
        assert status == 200
        seen += [u["id"] for u in body["users"]]
        cursor = body["next"]
        if not cursor:
            break
    assert [s for s in seen if s.startswith("pg")] == [f"pg{i:02d}" for i in range(7)]
    status, problem = await server.get("/v1/users", params={"id": "bad id"})
    assert status == 400


async def test_call_type_lifecycle(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    status, listed = await server.get("/v1/call-types")
    names = {t["name"] for t in listed["call_types"]}
    assert {"default", "audio_room", "livestream", "development"} <= names
    by_name = {t["name"]: t for t in listed["call_types"]}
    assert by_name["default"]["settings"]["ring"]["auto_cancel_timeout_ms"] == 15000
    assert by_name["default"]["settings"]["video"]["enabled"] is True
    assert by_name["audio_room"]["settings"]["backstage"]["enabled"] is True
    assert by_name["livestream"]["settings"]["backstage"]["enabled"] is True

    name = unique("ct")
    status, created = await server.post(
        "/v1/call-types",
        {
            "name": name,
            "settings": {"limits": {"max_participants": 8}},
            "grants": {"user": ["read-call", "create-call"]},
        },
    )
    assert status == 201 and created["settings"]["limits"]["max_participants"] == 8
    status, problem = await server.post("/v1/call-types", {"name": name})
    assert status == 409 and problem["code"] == "conflict"
    status, updated = await server.put(f"/v1/call-types/{name}", {"grants": {"host": ["end-call"]}})
    assert updated["grants"]["user"] == ["read-call", "create-call"] and updated["grants"][
        "host"
    ] == ["end-call"]

    status, call = await coordinator.api("alice").post(f"/v1/calls/{name}/x1", {})
    assert status == 201
    assert call["call"]["settings"]["limits"]["max_participants"] == 8
    status, problem = await server.delete(f"/v1/call-types/{name}")
    assert status == 409, "a type in use cannot be deleted"
    await server.delete(f"/v1/calls/{name}/x1")
    status, _ = await server.delete(f"/v1/call-types/{name}")
    assert status == 200
    status, problem = await server.get(f"/v1/call-types/{name}")
    assert status == 404

    status, problem = await coordinator.api("alice").get("/v1/call-types")
    assert status == 403
    status, problem = await server.post(
        "/v1/call-types", {"name": "bad", "grants": {"user": ["fly"]}}
    )
    assert status == 400


async def test_app_settings(coordinator: RunningCoordinator) -> None:
    server = coordinator.api()
    status, body = await server.get("/v1/app")
    assert status == 200 and body["app"]["open_sign_up"] is False
    status, body = await server.patch(
        "/v1/app",
        {
            "webhook_url": "https://hooks.example.org/p",
            "webhook_events": ["call.ring"],
            "open_sign_up": True,
        },
    )
    assert status == 200 and body["app"]["webhook_url"] == "https://hooks.example.org/p"
    status, body = await server.get("/v1/app")
    assert body["app"]["webhook_events"] == ["call.ring"]
    status, problem = await server.patch("/v1/app", {"webhook_url": "ftp://x"})
    assert status == 400
    status, problem = await coordinator.api("alice").get("/v1/app")
    assert status == 403


async def test_open_sign_up(coordinator: RunningCoordinator) -> None:
    status, problem = await coordinator.api(token="none").post(
        "/v1/auth/sign-up", {"user_id": "newbie"}
    )
    assert status == 403, "closed by default"
    await coordinator.api().patch("/v1/app", {"open_sign_up": True})
    await coordinator.api("member-only-user").post(
        f"/v1/calls/default/{unique()}", {"data": {"members": [{"user_id": "named"}]}}
    )
    anonymous = coordinator.api(token="none")
    status, body = await anonymous.post(
        "/v1/auth/sign-up", {"user_id": "newbie", "name": "New Bie"}
    )
    assert status == 201 and body["user"]["name"] == "New Bie"
    status, me = await coordinator.api(token=body["token"]).get("/v1/users/newbie")
    assert status == 200
    status, problem = await anonymous.post("/v1/auth/sign-up", {"user_id": "newbie"})
    assert status == 409, "a taken id is not handed out twice"
    status, body = await anonymous.post("/v1/auth/sign-up", {"user_id": "named"})
    assert status == 201, "a user who was only named as a member may still sign up"


async def test_app_patch_with_nulls(coordinator: RunningCoordinator) -> None:
    """Found by schemathesis: null for a list setting used to fail re-validation (500)."""
    server = coordinator.api()
    await server.patch(
        "/v1/app", {"webhook_url": "https://h.example.org/x", "webhook_events": ["call.ring"]}
    )
    status, body = await server.patch(
        "/v1/app", {"webhook_events": None, "open_sign_up": None, "webhook_url": None}
    )
    assert status == 200, body
    assert body["app"]["webhook_events"] == ["call.ring"], "null leaves a list setting as it was"
    assert body["app"]["webhook_url"] is None, "null clears the webhook"


async def test_users_who_never_signed_in_are_hidden_alike_in_list_and_lookup(
    coordinator: RunningCoordinator,
) -> None:
    """Naming someone as a member creates an unclaimed user: the list leaves them out, and
    so does looking them up by id, until they first sign in."""
    ghost = unique("ghost")
    await coordinator.api("alice").post(
        f"/v1/calls/default/{unique()}", {"data": {"members": [{"user_id": ghost}]}}
    )
    bob = coordinator.api("bob")
    status, _ = await bob.get(f"/v1/users/{ghost}")
    assert status == 404
    status, listed = await bob.get("/v1/users", params={"id": [ghost]})
    assert listed["users"] == []
    status, _ = await coordinator.api().get(f"/v1/users/{ghost}")
    assert status == 200, "the server sees every user"
    status, own = await coordinator.api(ghost).get(f"/v1/users/{ghost}")
    assert status == 200, "signing in claims the id"
    status, _ = await bob.get(f"/v1/users/{ghost}")
    assert status == 200
