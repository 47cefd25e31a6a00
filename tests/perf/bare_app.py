"""Baselines of bench_coordinator.py: bare JSON endpoints on the coordinator's paths, served
by the same uvicorn, doing no work at all — one in Starlette (``app``), one in FastAPI
(``fastapi_app``, the framework the coordinator is written in: path parameters validated,
a JSON response)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = {
    "call": {"type": "default", "id": "x", "cid": "default:x"},
    "members": [],
    "own_capabilities": [],
}


async def call(request: Request) -> JSONResponse:
    if request.method == "POST":
        await request.body()
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/v1/calls/{type}/{id}", call, methods=["GET", "POST"])])

fastapi_app = FastAPI()


@fastapi_app.get("/v1/calls/{type}/{id}")
async def fastapi_get(type: str, id: str) -> JSONResponse:
    return JSONResponse(BODY)


@fastapi_app.post("/v1/calls/{type}/{id}")
async def fastapi_post(type: str, id: str, request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(BODY)
