"""Run the npm `ocpp-rpc` client (tests/interop/ocpp_rpc/charger.js) as an independent OCPP 1.6J
charger against a central system: a subprocess with a timeout, its JSON lines parsed.

    run = await run_charger("ws://127.0.0.1:2408/ocpp", "CP-1", remote_wait_s=5)
    assert run.returncode == 0, run.output
    assert run.first("boot")["status"] == "Accepted"

The package is installed by ``python -m tests.services`` (``npm ci`` from the committed
package-lock.json, redone only when the lock file changes); ``require_ocpp_rpc()`` skips a test
when node or the package is missing, and fails it under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent / "ocpp_rpc"
SCRIPT = HERE / "charger.js"


def ocpp_rpc_missing() -> str | None:
    """Why the ocpp-rpc charger cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "ocpp-rpc" / "package.json").exists():
        return "ocpp-rpc is not installed: run `python -m tests.services` (npm ci)"
    return None


def require_ocpp_rpc() -> None:
    why = ocpp_rpc_missing()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and the ocpp-rpc charger cannot run: {why}")
    pytest.skip(why)


@dataclass(slots=True)
class ChargerRun:
    returncode: int | None  # None: killed at the timeout
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: str = ""

    def all(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def first(self, event: str) -> dict[str, Any]:
        found = self.all(event)
        assert found, f"no {event!r} in {self.output}"
        return found[0]

    @property
    def output(self) -> str:
        return "\n".join(json.dumps(e) for e in self.events) + (
            f"\nstderr: {self.stderr}" if self.stderr else ""
        )


async def run_charger(
    url: str,
    charge_point_id: str,
    *,
    password: str | None = None,
    connector: int = 1,
    id_tag: str = "RPC-TAG-1",
    meter_samples: int = 2,
    remote_wait_s: float = 0.0,
    timeout_s: float = 20.0,
) -> ChargerRun:
    """Play the bounded charger script against ``url`` (+ ``/{charge_point_id}``)."""
    require_ocpp_rpc()
    args = [
        str(SCRIPT), "--url", url.rstrip("/"), "--id", charge_point_id,
        "--connector", str(connector), "--id-tag", id_tag, "--meter-samples", str(meter_samples),
        "--remote-wait-ms", str(int(remote_wait_s * 1000)),
        "--timeout-ms", str(int(timeout_s * 1000)),
    ]  # fmt: skip
    if password is not None:
        args += ["--password", password]
    proc = await asyncio.create_subprocess_exec(
        "node", *args, cwd=HERE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:  # the script times itself out; this is the backstop
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 10)
    except TimeoutError:
        proc.kill()
        with contextlib.suppress(Exception):
            await proc.wait()
        return ChargerRun(None, [], "killed: no exit within the timeout")
    events = []
    for line in out.decode().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            events.append(json.loads(line))
    return ChargerRun(proc.returncode, events, err.decode())
