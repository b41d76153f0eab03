"""Core cases with the charge point played by the npm `ocpp-rpc` client (in strict mode it
checks every message against its own copy of the OCPP 1.6 schemas, both ways): another
implementation nobody here wrote. Its package is installed from tests/ocpp/rpc/package-lock.json
on first use."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.adapters.ocpp16.auth import hash_password
from gateway.app import Gateway
from tests.ocpp.conftest import CARD, CP

RPC = Path(__file__).parent / "rpc"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm are needed for the ocpp-rpc charge point"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    if not (RPC / "node_modules" / "ocpp-rpc").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=RPC, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
    return node


async def run_charger(node: str, port: int, password: str = "") -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        node, str(RPC / "charger.js"), f"ws://127.0.0.1:{port}/ocpp", CP, CARD, password,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_ocpp_rpc_core_session(gateway: Gateway, port: int, node: str) -> None:
    got = await run_charger(node, port)
    assert got["protocol"] == "ocpp1.6"
    assert got["boot"]["status"] == "Accepted" and got["boot"]["interval"] > 0
    assert got["status0"] == {} and got["heartbeat"]["currentTime"]
    assert got["authorize"]["idTagInfo"]["status"] == "Accepted"
    assert got["start"]["transactionId"] > 0
    assert got["startAgain"]["transactionId"] == got["start"]["transactionId"]
    assert got["stop"] == {} and got["stopAgain"] == {}  # no idTag sent: an empty answer
    assert got["orphanStop"] == {}
    assert got["badCall"] == "OccurenceConstraintViolation"  # the 1.6 spelling
    tx = await gateway.storage.ocpp_transaction(CP, got["start"]["transactionId"])
    assert tx is not None and tx.meter_stop_wh == 1500
    assert [o["transaction_id"] for o in await gateway.storage.orphan_stops(CP)] == [-1]


async def test_ocpp_rpc_with_basic_auth(gateway: Gateway, port: int, node: str) -> None:
    password = "0123456789abcdef"
    await gateway.storage.set_charger_password(
        CP, hash_password(password.encode()), 1, at_ms=gateway.now_ms()
    )
    got = await run_charger(node, port, password)
    assert got["boot"]["status"] == "Accepted"
