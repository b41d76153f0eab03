"""The field-case scenarios the simulator can play over YKC, against the real gateway: the
simulator's YKC piles (written apart from the gateway's adapter) are a second opinion on it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.app import Gateway
from simulators.scenarios import SCENARIOS, run_scenario
from tests.scenarios.conftest import BILL_WAIT_S, START_TIMEOUT_S, LiveGateway

#: Checks of a scenario that ask what YKC cannot carry, so no YKC gateway can pass them.
NOT_IN_YKC = {
    "start_fails_no_logout": {
        # 0x40 has no "flagged": a stored bill is confirmed "received" (0), never "illegal"
        # (1, the pile would drop it); the flag is the gateway's own (stored, reported).
        "late bill acknowledged FLAGGED with anomaly 6",
        # A YKC bill has no idle fee of its own.
        "pile's idle fee kept on record, gateway idle fee 0",
    },
}
#: The simulator's YKC slow drip writes every frame from its own task, so frames sent close
#: together interleave byte by byte on the wire (simulators/ykc_client.py, _drip).
SIMULATOR_DEFECTS: dict[str, str] = {}  # scenario -> why the simulator cannot play it over YKC

YKC_SCENARIOS = [
    pytest.param(name, marks=pytest.mark.skip(reason=SIMULATOR_DEFECTS[name]))
    if name in SIMULATOR_DEFECTS
    else name
    for name in sorted(n for n, s in SCENARIOS.items() if "ykc" in s.dialects)
]


def shorten_ykc_rules(gateway: Gateway) -> None:
    """YKC's own rules, shortened as the scenario gateway shortens v1's timeouts (read when
    the gateway's first YKC connection comes: set before any)."""
    config = gateway.config
    ykc = replace(
        config.ykc, start_confirm_s=START_TIMEOUT_S, bill_due_s=BILL_WAIT_S, stop_check_s=0.5
    )
    gateway.config = replace(config, ykc=ykc)


@pytest.mark.parametrize("name", YKC_SCENARIOS)
async def test_scenario_over_ykc(live: LiveGateway, name: str) -> None:
    shorten_ykc_rules(live.gateway)
    result = await run_scenario(name, live.options(dialect="ykc"))
    checks = result.to_dict()["checks"]
    assert checks, "the scenario ran no check"
    exempt = NOT_IN_YKC.get(name, set())
    failed = [f"{c['name']}: {c['detail']}" for c in checks if not c["passed"]]
    assert [c["name"] for c in checks if not c["passed"] and c["name"] not in exempt] == [], failed
