"""The SDK's seams: every wire error code has its error class, the token travels through
an ``httpx.Auth`` (refreshed once on ``token_expired``), requests can be answered by an
``httpx`` transport without a server, and the SDK's modules import in one direction."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import httpx
import pytest

from desktop_app.protocol.errors import ErrorCode
from desktop_app.sdk import NotFound, ServerError, TokenExpired, VideoClient
from desktop_app.sdk.errors import BY_CODE, ApiError, error_from_problem

SDK = Path(__file__).parents[2] / "desktop_app" / "sdk"


def test_every_error_code_maps_to_an_error_class() -> None:
    assert set(BY_CODE) == set(ErrorCode)
    for code, cls in BY_CODE.items():
        error = error_from_problem(400, {"code": code.value, "detail": "A sentence."})
        assert type(error) is cls and error.code == code.value and error.message == "A sentence."
    unknown = error_from_problem(418, {"code": "teapot", "detail": "Short and stout."})
    assert isinstance(unknown, ServerError) and unknown.message == "Short and stout."
    assert isinstance(error_from_problem(502, "<html>"), ApiError)


def _problem(status: int, code: str, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": code, "status": status, "detail": detail, "code": code}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


async def test_the_token_is_refreshed_once_through_the_auth_flow() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer old":
            return _problem(401, "token_expired", "Your token has expired.")
        return httpx.Response(200, json={"users": [], "next": None})

    tokens = iter(["new"])

    async def provider() -> str:
        return next(tokens)

    client = VideoClient(
        {"id": "alice"},
        token="old",
        token_provider=provider,
        transport=httpx.MockTransport(answer),
    )
    users, _ = await client.query_users()
    assert users == [] and seen == ["Bearer old", "Bearer new"]
    assert client.connection.token == "new"


async def test_a_token_still_refused_after_a_refresh_is_an_error() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return _problem(401, "token_expired", "Your token has expired.")

    async def provider() -> str:
        return "also-old"

    client = VideoClient(
        {"id": "alice"}, token_provider=provider, transport=httpx.MockTransport(answer)
    )
    with pytest.raises(TokenExpired, match="expired"):
        await client.query_users()


async def test_request_bodies_come_from_the_protocol_models() -> None:
    bodies: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return _problem(404, "not_found", "There is no call default:x.")

    client = VideoClient({"id": "alice"}, token="t", transport=httpx.MockTransport(answer))
    call = client.call("default", "x")
    with pytest.raises(NotFound):
        await call.reject("busy")
    assert bodies == [{"reason": "busy"}]
    with pytest.raises(Exception, match="reason"):
        await call.reject("because")  # not a reject reason: refused before it travels
    assert len(bodies) == 1


def _imports(path: Path) -> set[str]:
    """The SDK modules a module imports when it runs (not under ``TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If):
            continue  # if TYPE_CHECKING: …
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
        if isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
            found.update(alias.name for alias in node.names)
    return found


def test_no_import_cycle_in_the_sdk() -> None:
    graph = {p.stem: _imports(p) for p in SDK.glob("*.py") if p.stem != "__init__"}

    def visit(module: str, path: tuple[str, ...]) -> None:
        for imported in graph.get(module, set()):
            assert imported not in path, f"import cycle: {' → '.join((*path, imported))}"
            visit(imported, (*path, imported))

    for module in graph:
        visit(module, (module,))
    assert "client" not in graph["call"]
