"""Code 4's power limit comes from the pile's model (config [limits], protocol §4.11)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.config import ConfigError, LimitsConfig, load_config
from protocol.pilegate import AnomalyBit, MsgType
from tests.db import fresh_database
from tests.gateway.conftest import gateway_config, start_gateway
from tests.gateway.piles import ScriptedPile
from tests.gateway.test_end_to_end import bill_for


def test_the_model_string_selects_the_limit() -> None:
    limits = LimitsConfig(360, {"DC120": 120, "AC7": 7, "AC7-3P": 22})
    assert limits.max_power_kw_for("DC120") == 120
    assert limits.max_power_kw_for("AC7-1") == 7  # longest prefix
    assert limits.max_power_kw_for("AC7-3P-v2") == 22
    assert limits.max_power_kw_for("XYZ") == 360  # documented default
    assert LimitsConfig().max_power_kw_for("anything") == 360


def test_limits_from_the_file_and_the_environment(tmp_path: Path) -> None:
    f = tmp_path / "g.toml"
    f.write_text('[limits]\ndefault_max_power_kw = 250\n[limits.max_power_kw]\n"DC60" = 60\n')
    c = load_config(f, environ={})
    assert (c.limits.default_max_power_kw, c.limits.max_power_kw) == (250, {"DC60": 60})
    c = load_config(f, environ={"PILEGATE_LIMITS_MAX_POWER_KW": "AC7=7, DC30=30"})
    assert c.limits.max_power_kw == {"AC7": 7, "DC30": 30}
    assert load_config(environ={}).limits == LimitsConfig()  # shipped file = the defaults
    with pytest.raises(ConfigError, match="limits"):
        load_config(f, environ={"PILEGATE_LIMITS_MAX_POWER_KW": "AC7=0"})
    with pytest.raises(ConfigError, match="MODEL=KW"):
        load_config(f, environ={"PILEGATE_LIMITS_MAX_POWER_KW": "AC7"})


@pytest.mark.parametrize(("limit_kw", "flagged"), [(30, True), (120, False)])
async def test_bill_above_its_models_power_is_code_4(limit_kw: int, flagged: bool) -> None:
    """bill_for: 10 kWh in 10 minutes = 60 kW average, from a pile logged in as DC120."""
    base = gateway_config()
    config = replace(base, limits=LimitsConfig(360, {"DC120": limit_kw}))
    async with fresh_database("sqlite") as url:
        gw = await start_gateway(url, config)
        pile = ScriptedPile()
        try:
            await pile.login(gw.tcp_port)
            seq = pile.send(bill_for("c" * 32))
            ack = (await pile.expect(MsgType.BILL_ACK, seq=seq)).message
            assert bool(ack.anomalies & (1 << AnomalyBit.ENERGY)) is flagged
            await gw.storage.flush()
            reasons = [a.reason for a in await gw.storage.anomalies(code=4)]
            assert reasons == ([f"energy implies 60 kW average, pile limit {limit_kw} kW"]
                               if flagged else [])  # fmt: skip
        finally:
            await pile.close()
            await gw.stop(grace_s=2)
