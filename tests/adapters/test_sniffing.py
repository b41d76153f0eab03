"""The shared TCP port hands each connection to the dialect its first valid frame names."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import structlog

from gateway.adapters.sniffing import DialectSniffer
from protocol.sniff import SNIFF_LIMIT
from tests.protocol.ykc.samples import SAMPLES

VECTORS = Path(__file__).parents[1] / "vectors"


class Link:
    def __init__(self) -> None:
        self.connection: Any = None
        self.closed = False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def write_buffer_size(self) -> int:
        return 0


class Conn:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.data = b""

    def data_received(self, data: bytes) -> None:
        self.data += data


def sniffer(link: Link, timeout_s: float = 5.0) -> tuple[DialectSniffer, list[Any], list[Any]]:
    registered: list[Any] = []
    forgotten: list[Any] = []
    s = DialectSniffer(
        link, "tcp:127.0.0.1:1",
        {"ykc": lambda _l, _p: Conn("ykc"), "pilegate": lambda _l, _p: Conn("pilegate")},
        loop=asyncio.get_running_loop(), timeout_s=timeout_s, log=structlog.get_logger(),
        registered=registered.append, forgotten=forgotten.append,
    )  # fmt: skip
    link.connection = s
    return s, registered, forgotten


async def test_a_ykc_login_split_in_pieces_behind_a_banner_goes_to_ykc_whole() -> None:
    link = Link()
    s, registered, forgotten = sniffer(link)
    data = b"+++ATE0\r\n" + SAMPLES["login"] + SAMPLES["heartbeat"]
    s.data_received(data[:12])
    assert link.connection is s
    s.data_received(data[12:])
    assert link.connection.dialect == "ykc" and link.connection.data == data
    assert registered == [link.connection] and forgotten == [s]


async def test_a_v1_login_goes_to_protocol_v1() -> None:
    login = json.loads((VECTORS / "login.json").read_text())["hex"]
    link = Link()
    s, _, _ = sniffer(link)
    s.data_received(bytes.fromhex(login))
    assert link.connection.dialect == "pilegate"


async def test_noise_beyond_the_limit_or_the_login_timeout_closes() -> None:
    link = Link()
    s, _, _ = sniffer(link)
    s.data_received(b"\x00" * (SNIFF_LIMIT + 1))
    assert link.closed and link.connection is s
    quiet = Link()
    sniffer(quiet, timeout_s=0.01)
    await asyncio.sleep(0.05)
    assert quiet.closed
