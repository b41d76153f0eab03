"""The admin HTTP API (FastAPI on uvicorn, inside the gateway's own event loop).

    server = AdminServer(gateway, config.admin, bridge=mqtt_bridge_or_None)
    await server.start()   # after gateway.start()
    ...
    await server.stop()    # before gateway.stop()

Endpoints: see gateway/admin/app.py (and /openapi.json of a running gateway).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AdminServer", "AdminStartError", "create_app"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `Gateway.emit` needs only gateway.admin.live, and a gateway
    # without an admin server should not pay for importing FastAPI and uvicorn.
    if name == "create_app":
        from gateway.admin.app import create_app

        return create_app
    if name in ("AdminServer", "AdminStartError"):
        from gateway.admin import server

        return getattr(server, name)
    raise AttributeError(f"module 'gateway.admin' has no attribute {name!r}")
