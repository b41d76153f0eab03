"""pilegate-sim signs logins and speaks TLS: a fleet against a gateway requiring both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.adapters.pilegate.pile_auth import generate_secret
from gateway.app import Gateway
from simulators.credentials import load_credentials, parse_secrets
from simulators.fleet import Fleet, FleetConfig
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.tls_cert import make_self_signed

PILES = 3


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def gw(db_url: str, cert: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    config = gateway_config()
    config = replace(
        config,
        server=replace(config.server, tls_cert=str(cert[0]), tls_key=str(cert[1])),
        piles=replace(config.piles, auth="required"),
    )
    gateway = await start_gateway(db_url, config, register=False)
    try:
        yield gateway
    finally:
        await gateway.stop(grace_s=2)


async def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.02)
    return True


def fleet_config(gateway: str, tmp: Path, **kw) -> FleetConfig:  # type: ignore[no-untyped-def]
    return FleetConfig(
        gateway=gateway, piles=PILES, guns=1, duration_s=None, time_scale=1.0, state_dir=tmp,
        auto=False, durable=False, backoff_base_s=0.05, backoff_max_s=0.2, ack_timeout_s=5.0,
        **kw,
    )  # fmt: skip


@pytest.mark.parametrize("scheme", ["tls", "wss"])
async def test_fleet_logs_in_signed_over_tls(
    gw: Gateway, cert: tuple[Path, Path], tmp_path: Path, scheme: str
) -> None:
    port = gw.tcp_port if scheme == "tls" else gw.ws_port
    probe = Fleet(fleet_config(f"{scheme}://127.0.0.1:{port}", tmp_path))
    lines = ["pile_id,station_id,gun_count,enabled,secret"]
    for pile in probe.piles:  # as `pilegate piles add ... --secret generate --format csv`
        await gw.storage.register_pile(pile.pile_id, gun_count=1)
        secret = generate_secret()
        await gw.storage.set_pile_secret(pile.pile_id, secret)
        lines.append(f"{pile.pile_id},,1,True,{secret.hex()}")
    secrets_file = tmp_path / "secrets.csv"
    secrets_file.write_text("\n".join(lines) + "\n")

    credentials = load_credentials(None, str(secrets_file), str(cert[0]))
    fleet = Fleet(fleet_config(f"{scheme}://127.0.0.1:{port}", tmp_path, credentials=credentials))
    await fleet.start()
    try:
        assert await wait_until(lambda: all(c.logged_in for c in fleet.clients))
        assert all(gw.piles[p.pile_id].connection.authenticated for p in fleet.piles)  # type: ignore[union-attr]
    finally:
        summary = await fleet.stop()
    assert summary.stats.login_rejected == 0


async def test_fleet_without_secrets_is_refused(
    gw: Gateway, cert: tuple[Path, Path], tmp_path: Path
) -> None:
    credentials = load_credentials(None, None, str(cert[0]))
    fleet = Fleet(fleet_config(f"tls://127.0.0.1:{gw.tcp_port}", tmp_path, credentials=credentials))
    for pile in fleet.piles:
        await gw.storage.register_pile(pile.pile_id, gun_count=1)
        await gw.storage.set_pile_secret(pile.pile_id, generate_secret())
    await fleet.start()
    try:
        assert await wait_until(lambda: fleet.stats.login_rejected >= PILES)
        assert not any(c.logged_in for c in fleet.clients)
    finally:
        await fleet.stop()


def test_secrets_file_formats() -> None:
    a, b = "11" * 32, "22" * 32
    csv_text = f"pile_id,station_id,gun_count,enabled,secret\n4403060003000020,,1,True,{a}\n"
    assert parse_secrets(csv_text) == {"00004403060003000020": bytes.fromhex(a)}
    plain = f"# pile secret\n44030600030000200060 {b}\n44030600030000200061,{a}\n"
    assert parse_secrets(plain) == {
        "44030600030000200060": bytes.fromhex(b),
        "44030600030000200061": bytes.fromhex(a),
    }
    with pytest.raises(ValueError, match="line 1"):
        parse_secrets("44030600030000200060\n")
    with pytest.raises(ValueError, match="64 hex"):
        parse_secrets("44030600030000200060 abcd\n")
