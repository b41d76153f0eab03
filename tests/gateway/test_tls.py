"""TLS on the TCP port and wss:// on the WebSocket port, with a throwaway certificate."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect

from gateway.app import Gateway
from gateway.config import ConfigError, load_config
from gateway.tls import TlsConfigError, server_context
from protocol.pilegate import FrameDecoder, Login, LoginAck, MsgType, Result, encode
from protocol.pilegate.login_auth import sign_login
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import PILE_ID, ScriptedPile
from tests.gateway.tls_cert import make_self_signed

SECRET = bytes(range(32))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_gateway(db_url: str, cert: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    config = gateway_config()
    config = replace(
        config,
        server=replace(config.server, tls_cert=str(cert[0]), tls_key=str(cert[1])),
        piles=replace(config.piles, auth="required"),
    )
    gw = await start_gateway(db_url, config)
    await gw.storage.set_pile_secret(PILE_ID, SECRET)
    try:
        yield gw
    finally:
        await gw.stop(grace_s=2)


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))  # verifies the chain and 127.0.0.1


class TlsPile(ScriptedPile):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self.context = context

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=self.context
        )
        self._reader_task = asyncio.create_task(self._read())


def signed_login(now_ms: int) -> Login:
    return sign_login(Login(PILE_ID, "ACME", "DC120", "V2", 1, 2, now_ms), SECRET)


async def test_signed_login_over_tls_on_tcp(tls_gateway: Gateway, cert: tuple[Path, Path]) -> None:
    pile = TlsPile(client_context(cert[0]))
    await pile.connect(tls_gateway.tcp_port)
    try:
        seq = pile.send(signed_login(tls_gateway.now_ms()))
        ack = await pile.expect(MsgType.LOGIN_ACK, seq=seq)
        assert ack.message.result == Result.OK  # type: ignore[attr-defined]
        assert (await pile.heartbeat()).message.TYPE == MsgType.HEARTBEAT_ACK
    finally:
        await pile.close()


async def test_plain_tcp_gets_no_login_ack_from_a_tls_port(tls_gateway: Gateway) -> None:
    pile = ScriptedPile()
    await pile.connect(tls_gateway.tcp_port)
    try:
        pile.send(signed_login(tls_gateway.now_ms()))
        await asyncio.wait_for(pile.closed.wait(), 10)  # the handshake fails; nothing served
        assert not pile.received
    finally:
        await pile.close()


async def test_signed_login_over_wss(tls_gateway: Gateway, cert: tuple[Path, Path]) -> None:
    url = f"wss://127.0.0.1:{tls_gateway.ws_port}/pile/{PILE_ID}"
    context = client_context(cert[0])
    async with ws_connect(url, subprotocols=["pilegate.v1"], ssl=context) as ws:  # type: ignore[list-item]
        await ws.send(encode(signed_login(tls_gateway.now_ms()), 1))
        (reply,) = FrameDecoder().feed(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[arg-type]
        assert isinstance(reply.message, LoginAck)  # type: ignore[union-attr]
        assert reply.message.result == Result.OK  # type: ignore[union-attr]


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    tls_gateway: Gateway,
) -> None:
    context = ssl.create_default_context()  # system CAs only: our self-signed cert fails
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection("127.0.0.1", tls_gateway.tcp_port, ssl=context)


def test_cert_and_key_go_together_and_must_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tls_cert and server\.tls_key"):
        load_config(None, environ={"PILEGATE_TLS_CERT": "x"})
    config = gateway_config()
    missing = replace(config.server, tls_cert=str(tmp_path / "c.pem"), tls_key="k.pem")
    with pytest.raises(TlsConfigError, match="no such file"):
        server_context(missing)
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    bad = replace(config.server, tls_cert=str(tmp_path / "c.pem"), tls_key=str(tmp_path / "k.pem"))
    with pytest.raises(TlsConfigError, match="cannot load"):
        server_context(bad)
    assert server_context(config.server) is None
