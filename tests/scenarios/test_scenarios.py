"""Every field-case scenario against a real gateway, through the entry point of the CLI."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from simulators import cli
from simulators.scenarios import SCENARIOS, ScenarioOptions, run_scenario
from tests.scenarios.conftest import BILL_WAIT_S, START_TIMEOUT_S, TOKEN, LiveGateway
from tests.simulators.fake_gateway import FakeGateway

REQUIRED = {
    "happy_path", "start_fails_no_logout", "stop_not_honoured", "transient_fault",
    "unauthorised_charge", "late_start", "offline_with_bills", "duplicate_bill",
    "garbage_bytes", "slow_drip", "disabled_pile", "old_firmware_lost_bill",
}  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def _sim_command() -> list[str]:
    script = Path(sys.executable).parent / "pilegate-sim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "simulators.cli"]


async def _cli(*args: str, timeout_s: float = 30.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *_sim_command(),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_the_catalogue_has_every_field_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(SCENARIOS) >= REQUIRED
    assert cli.main(["scenarios", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(SCENARIOS)
    assert all(r["case"] and r["description"] for r in rows)
    assert cli.main(["scenarios"]) == 0
    assert "late_start" in capsys.readouterr().out


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_scenario_passes_against_the_gateway(live: LiveGateway, name: str) -> None:
    result = await run_scenario(name, live.options())
    failed = [c for c in result.checks if not c.passed]
    assert result.passed, json.dumps(result.to_dict(), indent=1)
    assert not failed and len(result.checks) >= 4
    assert result.checks[0].name == "pile logged in"
    for pile_id in result.piles:  # auto-registered, and known to the gateway
        assert pile_id in live.gateway.piles


async def test_scenarios_share_one_gateway_without_interfering(live: LiveGateway) -> None:
    """As from the CLI, runs one after another on one gateway: own piles, own accounts."""
    opts = live.options(run_id=777)
    for name in ("stop_not_honoured", "happy_path", "duplicate_bill"):
        result = await run_scenario(name, opts)
        assert result.passed, json.dumps(result.to_dict(), indent=1)


async def test_cli_runs_a_scenario_and_prints_json(live: LiveGateway) -> None:
    rc, out, err = await _cli(
        "scenario", "happy_path", "--gateway", live.tcp_url, "--admin", live.admin.url,
        "--token", TOKEN, "--start-timeout", str(START_TIMEOUT_S),
        "--bill-wait", str(BILL_WAIT_S), "--step-timeout", "4", "--json",
    )  # fmt: skip
    assert rc == 0, out + err
    result = json.loads(out)
    assert result["scenario"] == "happy_path" and result["passed"] is True
    assert result["checks"] and all(
        set(c) == {"name", "passed", "detail"} and c["passed"] is True for c in result["checks"]
    )
    assert len(result["piles"]) == 1 and result["piles"][0] in live.gateway.piles


async def test_cli_fails_against_a_gateway_that_never_stops_a_rogue_charge() -> None:
    """The tiny fake gateway acknowledges everything but never sends STOP_CHARGE."""
    async with FakeGateway() as fake:
        rc, out, err = await _cli(
            "scenario", "unauthorised_charge", "--gateway", fake.url, "--no-admin",
            "--step-timeout", "1.5", "--json",
        )  # fmt: skip
        assert fake.logins  # the pile did log in and charge
    assert rc == 1, out + err
    result = json.loads(out)
    assert result["passed"] is False
    checks = {c["name"]: c for c in result["checks"]}
    assert checks["pile charges without a session"]["passed"] is True
    assert checks["gateway sends STOP_CHARGE"]["passed"] is False
    assert "0 STOP_CHARGE" in checks["gateway sends STOP_CHARGE"]["detail"]


async def test_a_wrong_token_fails_the_run_instead_of_raising(live: LiveGateway) -> None:
    result = await run_scenario("disabled_pile", live.options(token="wrong"))
    assert not result.passed
    assert any("401" in c.detail for c in result.checks if not c.passed)


async def test_scenarios_that_need_the_admin_api_say_so() -> None:
    result = await run_scenario("happy_path", ScenarioOptions(admin=None))
    assert not result.passed
    assert [c.name for c in result.checks] == ["admin API given"]


def test_an_unknown_scenario_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["scenario", "no_such_case"]) == 2
    assert "unknown scenario" in capsys.readouterr().err
