"""Every log line is one JSON object, the standard library's and uvicorn's too (issue 15)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from gateway.admin import AdminServer
from gateway.config import AdminConfig
from gateway.logs import configure_logging


def _lines(stream: io.BytesIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_stdlib_logging_is_json_with_the_exception() -> None:
    stream = io.BytesIO()
    configure_logging("info", stream)
    try:
        raise ValueError("disk on fire")
    except ValueError:
        logging.getLogger("pilegate.storage.writer").exception("batch failed")
    logging.getLogger("pilegate.storage.writer").debug("below the level")
    lines = _lines(stream)
    assert len(lines) == 1
    assert lines[0]["event"] == "batch failed" and lines[0]["level"] == "error"
    assert lines[0]["logger"] == "pilegate.storage.writer"
    assert "ValueError: disk on fire" in lines[0]["exception"]


class _Gateway:
    """Just enough of a gateway for the admin app to be built."""

    def __init__(self) -> None:
        self.piles: dict = {}
        self.storage = SimpleNamespace(reader=None)


async def test_admin_api_500_is_one_json_line_not_a_traceback_on_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    stream = io.BytesIO()
    configure_logging("info", stream)
    gateway = _Gateway()
    admin = AdminServer(gateway, AdminConfig(host="127.0.0.1", port=0, token=""))

    async def boom() -> None:
        raise RuntimeError("handler bug")

    admin.app.add_api_route("/boom", boom)
    await admin.start()
    try:
        async with httpx.AsyncClient(base_url=admin.url) as client:
            response = await client.get("/boom")
    finally:
        await admin.stop()
    assert response.status_code == 500
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    errors = [x for x in _lines(stream) if "RuntimeError: handler bug" in x.get("exception", "")]
    assert len(errors) == 1 and errors[0]["level"] == "error"


def test_log_lines_name_piles_and_transactions_as_mqtt_does() -> None:
    from gateway.logs import get_logger

    stream = io.BytesIO()
    configure_logging("info", stream)
    get_logger(pile="44030600030000200060").info("alarm", transaction="T1", session="S1")
    line = _lines(stream)[-1]
    assert line["pile_id"] == "44030600030000200060" and line["transaction_id"] == "T1"
    assert line["session_id"] == "S1"
    assert "pile" not in line and "transaction" not in line and "session" not in line


def test_logout_reasons_are_logged_by_name() -> None:
    from gateway.adapters.pilegate.codes import stop_reason_name

    adapter = Path(__file__).resolve().parents[2] / "gateway" / "adapters" / "pilegate"
    source = (adapter / "inbound.py").read_text()
    call = source[source.index('"pile_logout"') : source.index('"pile_logout"') + 300]
    assert "reason=stop_reason_name(m.reason)" in call
    assert stop_reason_name(2) == "remote"
