"""What a client without a token can cost is bounded: heads over 16 KiB get 431, a head
trickled too slowly gets 408 and the connection closes, and connections beyond the
deployment's bound are turned away at once with 503 — each as a problem document."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from desktop_app.coordinator.config import CoordinatorConfig
from tests.support.coordinator import RunningCoordinator, running


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[RunningCoordinator]:
    config = CoordinatorConfig(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}",
        secret="limits-secret-0123456789abcdef0123456789",
        data_dir=tmp_path,
        header_timeout_seconds=1.0,
        body_timeout_seconds=1.0,
        max_connections=6,
    )
    async with running(config) as coordinator:
        yield coordinator


async def _open(coordinator: RunningCoordinator) -> tuple[asyncio.StreamReader, Any]:
    port = int(coordinator.base_url.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], Any]:
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
    lines = head.split("\r\n")
    headers = {
        k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10)
    return int(lines[0].split()[1]), headers, json.loads(body) if body else None


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 10) == b""
    except ConnectionError:
        return True


def _request(path: str, extra: str = "", body: bytes = b"", method: str = "GET") -> bytes:
    length = f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n" if body else ""
    return f"{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}{length}\r\n".encode() + body


def _head_declaring(path: str, length: int) -> bytes:
    """A POST head announcing a JSON body of ``length`` bytes (none of it sent)."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {length}\r\n"
        "Content-Type: application/json\r\n\r\n"
    ).encode()


async def _trickle(writer: Any, pieces: Iterable[bytes]) -> None:
    """A slow client: one piece every 0.2 s."""
    for piece in pieces:
        writer.write(piece)
        await asyncio.sleep(0.2)


async def test_oversized_headers_get_431_and_the_connection_closes(
    strict: RunningCoordinator,
) -> None:
    reader, writer = await _open(strict)
    writer.write(_request("/healthz", f"X-Big: {'a' * 20_000}\r\n"))
    status, headers, problem = await _answer(reader)
    assert status == 431 and problem["code"] == "headers_too_large", problem
    assert headers["content-type"] == "application/problem+json"
    assert await _closed(reader)
    writer.close()


async def test_a_head_just_under_the_limit_and_a_big_body_pass(strict: RunningCoordinator) -> None:
    reader, writer = await _open(strict)
    writer.write(_request("/healthz", f"X-Big: {'a' * 15_000}\r\n"))
    status, _, _ = await _answer(reader)
    assert status == 200
    # the same keep-alive connection: a 200 KB body right behind a small head is no head
    body = json.dumps({"filter": {}, "pad": "x" * 200_000}).encode()
    writer.write(_request("/v1/calls/query", body=body, method="POST"))
    status, _, problem = await _answer(reader)
    assert status == 401 and problem["code"] == "unauthenticated", problem
    # and the next oversized head on it is still refused
    writer.write(_request("/healthz", f"X-Big: {'a' * 20_000}\r\n"))
    status, _, problem = await _answer(reader)
    assert status == 431
    writer.close()


async def test_a_trickled_head_gets_408_and_the_connection_closes(
    strict: RunningCoordinator,
) -> None:
    reader, writer = await _open(strict)
    writer.write(b"GET /healthz HTTP/1.1\r\n")
    lines = (f"X-Slow-{i}: a\r\n".encode() for i in range(100))
    dripping = asyncio.create_task(_trickle(writer, lines))
    status, _, problem = await _answer(reader)
    dripping.cancel()
    assert status == 408 and problem["code"] == "request_timeout", problem
    assert await _closed(reader)
    writer.close()


async def test_a_silent_connection_is_closed(strict: RunningCoordinator) -> None:
    reader, writer = await _open(strict)
    status, _, problem = await _answer(reader)  # it never sends a byte
    assert status == 408, problem
    assert await _closed(reader)
    writer.close()


async def test_connections_beyond_the_bound_are_turned_away(strict: RunningCoordinator) -> None:
    held = [await _open(strict) for _ in range(6)]
    reader, writer = await _open(strict)
    status, headers, problem = await _answer(reader)
    assert status == 503 and problem["code"] == "server_busy", problem
    assert headers["retry-after"] == "1"
    for _, held_writer in held:
        held_writer.close()
    await asyncio.sleep(0.2)
    reader, writer = await _open(strict)
    writer.write(_request("/healthz"))
    status, _, _ = await _answer(reader)
    assert status == 200, "room again once others left"
    writer.close()


async def test_a_head_pipelined_behind_a_small_request_is_counted_too(
    strict: RunningCoordinator,
) -> None:
    reader, writer = await _open(strict)
    writer.write(_request("/healthz") + _request("/healthz", f"X-Big: {'a' * 120_000}\r\n"))
    status, _, _ = await _answer(reader)
    assert status == 200
    status, _, problem = await _answer(reader)
    assert status == 431 and problem["code"] == "headers_too_large", problem
    assert await _closed(reader)
    writer.close()


async def test_a_refused_big_body_gets_one_answer_only(strict: RunningCoordinator) -> None:
    reader, writer = await _open(strict)
    writer.write(_head_declaring("/v1/calls/query", 2 * 1024 * 1024))
    status, _, problem = await _answer(reader)
    assert status == 413 and problem["code"] == "payload_too_large", problem
    writer.write(b"x" * 65536)  # the body the client had started sending
    with contextlib.suppress(TimeoutError, ConnectionError):
        rest = await asyncio.wait_for(reader.read(1), 1.0)
        assert rest == b"", "no second answer (it was a 431 before)"
    writer.close()


async def test_a_trickled_body_gets_408(strict: RunningCoordinator) -> None:
    reader, writer = await _open(strict)
    writer.write(_head_declaring("/v1/auth/sign-up", 100))
    spaces = (b" " for _ in range(100))
    dripping = asyncio.create_task(_trickle(writer, spaces))
    status, _, problem = await _answer(reader)
    dripping.cancel()
    assert status == 408 and problem["code"] == "request_timeout", problem
    writer.close()


async def test_one_address_cannot_take_every_connection(tmp_path: Path) -> None:
    config = CoordinatorConfig(
        database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}",
        secret="limits-secret-0123456789abcdef0123456789",
        data_dir=tmp_path,
        max_connections_per_address=4,
    )
    async with running(config) as coordinator:
        held = [await _open(coordinator) for _ in range(4)]
        reader, _ = await _open(coordinator)
        status, _, problem = await _answer(reader)
        assert status == 503 and "Your address" in problem["detail"], problem
        for _, writer in held:
            writer.close()


def test_addresses_are_counted_per_subscriber() -> None:
    from desktop_app.coordinator.http_guard import address_key

    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
