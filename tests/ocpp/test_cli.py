"""`pilegate ocpp add` and `pilegate ocpp password`: a charge point registered and given a
password from the command line is let in with it, and only with it."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest
import websockets

from gateway.app import Gateway
from gateway.cli import main
from tests.ocpp.support import connected


def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


async def run_cli(*argv: str) -> tuple[int, str]:
    return await asyncio.to_thread(cli, *argv)


async def test_cli_registers_a_charger_and_sets_its_password(
    gateway: Gateway, port: int, db_url: str
) -> None:
    status, out = await run_cli("ocpp", "add", "CP-CLI", "--connectors", "1", "--database", db_url)
    assert status == 0 and "registered" in out
    status, out = await run_cli("ocpp", "password", "CP-CLI", "--database", db_url)
    assert status == 0 and "security profile 1" in out
    key = out.split("(shown once):")[1].strip()  # generated, printed once
    async with connected(port, "CP-CLI", password=bytes.fromhex(key)) as cp:
        assert (await cp.boot()).status == "Accepted"
    with pytest.raises(websockets.InvalidStatus):
        async with connected(port, "CP-CLI"):
            pass
    status, _ = await run_cli("ocpp", "password", "NOPE", "--key", "00" * 16, "--database", db_url)
    assert status == 1  # unknown charge point
    status, _ = await run_cli("ocpp", "password", "CP-CLI", "--key", "0011", "--database", db_url)
    assert status == 2  # too short: refused before anything is stored
