"""The field-case scenarios take the dialect as a parameter: which cases apply where, and a
scenario played by YKC piles against a platform (fake_platform.py) that does, or does not, do
what the case asks of a gateway."""

from __future__ import annotations

import pytest

from simulators.scenarios import ScenarioOptions, catalogue, run_scenario
from tests.simulators.fake_platform import FakePlatform


def test_every_scenario_says_which_dialects_it_applies_to() -> None:
    rows = {r["name"]: r for r in catalogue()}
    assert all("pilegate" in r["dialects"] for r in rows.values())
    assert set(rows["happy_path"]["dialects"]) == {"pilegate", "ocpp16", "ykc"}
    # A charge with no OCPP transaction has no id a central system could RemoteStop.
    assert "ocpp16" not in rows["unauthorised_charge"]["dialects"]
    assert "ykc" in rows["unauthorised_charge"]["dialects"]
    # The late bill of a failed start has no OCPP form (no transaction was opened).
    assert "ocpp16" not in rows["start_fails_no_logout"]["dialects"]
    for r in rows.values():
        assert set(r["dialects"]) <= {"pilegate", "ocpp16", "ykc"}
        assert all(isinstance(note, str) for note in r["dialects"].values())


async def test_a_scenario_refuses_a_dialect_its_case_does_not_apply_to() -> None:
    result = await run_scenario("unauthorised_charge", ScenarioOptions(dialect="ocpp16"))
    assert not result.passed
    (check,) = result.checks
    assert check.name == "scenario applies to ocpp16" and "ykc" in check.detail


@pytest.mark.parametrize("stops", [True, False])
async def test_unauthorised_charge_over_ykc(stops: bool) -> None:
    async with FakePlatform() as pf:
        pf.stop_rogue_charges = stops
        opts = ScenarioOptions(gateway=pf.url, admin=None, dialect="ykc", step_timeout_s=2.0)
        result = await run_scenario("unauthorised_charge", opts)
    checks = {c.name: c for c in result.checks}
    assert checks["pile logged in"].passed and checks["pile charges without a session"].passed
    assert checks["gateway sends STOP_CHARGE"].passed is stops
    assert result.passed is stops
    assert result.piles[0] in pf.piles and len(result.piles[0]) == 14  # a YKC pile number
