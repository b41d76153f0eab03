"""The web console and the offline API docs, served by the admin server (included by app.py).

    GET /                   redirects to /console/
    GET /console/           the console (static/index.html; the page asks for the token)
    GET /console/static/*   its CSS and JavaScript, from the package (no CDN, no build step)
    GET /docs               API reference rendered from /openapi.json by static/docs.js
    GET /events             live events as Server-Sent Events (bearer token required)

/events sends one `data:` line of JSON per gateway event (the MQTT event body: kind,
pile_id, at_ms, ...), a `resync` event when this client fell behind and lost events (re-read
the state), and a comment every 15 s so that proxies keep the connection open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.params import Depends
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from gateway.admin import access, live

STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0
REPLACED_DOCS = {"/docs", "/docs/oauth2-redirect", "/redoc"}


def _sse(event: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(event) + b"\n\n"


def install(
    app: FastAPI,
    gateway: Any,
    auth: Depends,
    token: str = "",
    operators: dict[str, access.Operator] | None = None,
) -> None:
    """Add the console, /docs and /events to `app`; `auth` guards /events. `operators`
    (default: the file named by $PILEGATE_ADMIN_OPERATORS) get their own tokens and roles
    (gateway/admin/access.py)."""
    if operators is None:
        operators = access.load_operators()
    app.add_middleware(access.OperatorAccess, admin_token=token, operators=operators)
    hub = live.hub_for(gateway)
    streams: set[live.Subscriber] = set()

    def close_streams() -> None:
        for sub in list(streams):
            sub.close()

    # AdminServer.stop ends the open streams first, or uvicorn would wait for them.
    app.state.close_live_streams = close_streams
    # FastAPI's own /docs loads Swagger UI from a CDN: blank without internet.
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(r, "path", None) not in REPLACED_DOCS
    ]
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/console/", include_in_schema=False)
    async def console_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> FileResponse:
        return FileResponse(STATIC / "docs.html", headers={"Cache-Control": "no-cache"})

    @app.get("/events", tags=["live"], dependencies=[auth], response_class=StreamingResponse)
    async def events() -> StreamingResponse:
        sub = hub.subscribe()
        streams.add(sub)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n" + _sse({"at_ms": gateway.now_ms()}, "hello")
                while not sub.closed:
                    batch, dropped = await sub.next_batch(KEEPALIVE_S)
                    if dropped:
                        yield _sse({"dropped": dropped}, "resync")
                    for event in batch:
                        yield _sse(event)
                    if not batch and not dropped:
                        yield b": keep-alive\n\n"
            finally:
                sub.close()
                streams.discard(sub)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
