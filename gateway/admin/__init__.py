"""The admin HTTP API (FastAPI on uvicorn, inside the gateway's own event loop).

    server = AdminServer(gateway, config.admin, bridge=mqtt_bridge_or_None)
    await server.start()   # after gateway.start()
    ...
    await server.stop()    # before gateway.stop()

Endpoints: see gateway/admin/app.py (and /openapi.json of a running gateway).
"""

from gateway.admin.app import create_app
from gateway.admin.server import AdminServer, AdminStartError

__all__ = ["AdminServer", "AdminStartError", "create_app"]
