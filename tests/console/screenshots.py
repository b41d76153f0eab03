"""Regenerate the screenshots of docs/console.md with the same headless Chromium as the
browser tests:

    python -m tests.console.screenshots [--out docs/console]

It starts a gateway with a scripted pile on 127.0.0.1, seeds the report data set of the
operator tests (January 2020), plays a charge to its bill, corrects the bill, starts another
charge and faults a gun, then saves one PNG per page.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update

from gateway.storage.schema import piles
from protocol.pilegate import (
    FaultCode,
    GunStatus,
    Logout,
    Result,
    StartResult,
    StopReason,
    StopResult,
)
from tests import reads
from tests.console.harness import TOKEN, LiveGateway, make_driver, missing_browser_reason
from tests.gateway.conftest import ACCOUNT
from tests.gateway.piles import PILE_ID
from tests.gateway.test_end_to_end import T0, bill_for
from tests.operator.seed import seed_reports

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ("piles", "#/piles"),
    ("sessions", "#/sessions"),
    ("bills", "#/bills"),
    ("bill", "#/bill/{bill}"),
    ("alarms", "#/alarms"),
    ("frames", "#/frames?bill={bill}"),
    ("tariffs", "#/tariffs?pile=" + PILE_ID),
    ("reports", "#/reports?from=2020-01-01&to=2020-01-31&by=firmware&expected=V2"),
    ("registry", "#/registry"),
]


def prepare(env: LiveGateway) -> str:
    """The scene; returns the id of the corrected bill."""
    gw, pile = env.gateway, env.pile
    assert gw is not None and pile is not None

    async def scene() -> str:
        await seed_reports(gw.storage.engine)
        async with gw.storage.engine.begin() as conn:  # seeded piles are not connected here
            await conn.execute(update(piles).where(piles.c.id != PILE_ID).values(online=False))
        result = await gw.start_charge(PILE_ID, 1, ACCOUNT, "own_app")
        tx = result.transaction_id
        assert tx is not None
        pile.send(StartResult(1, tx, Result.OK, FaultCode.NONE, T0, 1_000_000))
        pile.status[1] = GunStatus.CHARGING
        await pile.heartbeat(power_w=60_000)
        await gw.stop_charge(PILE_ID, 1)
        pile.send(StopResult(1, tx, Result.OK, StopReason.REMOTE, T0 + 600_000, 1_100_000))
        pile.status[1] = GunStatus.AVAILABLE
        pile.send(Logout(1, tx, StopReason.REMOTE, T0 + 660_000))
        await pile.heartbeat()
        pile.send(bill_for(tx, energy=120_000))  # the pile claims more than the meter showed
        for _ in range(300):
            found = await reads.find_bill(gw.storage, PILE_ID, tx)
            if found is not None:
                break
            await _sleep()
        assert found is not None
        await gw.storage.correct_bill(found["id"], 100_000, "meter readings", "ann", gw.now_ms())
        again = await gw.start_charge(PILE_ID, 1, "13900000000", "card")
        assert again.transaction_id is not None
        pile.send(StartResult(1, again.transaction_id, Result.OK, FaultCode.NONE, T0, 1_100_000))
        pile.status[1] = GunStatus.CHARGING
        await pile.heartbeat(power_w=58_000)
        return found["id"]

    return env.run(scene())


async def _sleep() -> None:
    import asyncio

    await asyncio.sleep(0.02)


def shoot(driver: Any, env: LiveGateway, out: Path, bill: str) -> list[Path]:
    saved = []
    driver.get(env.url + "/console/")
    driver.find_element("id", "login-token").send_keys(TOKEN)
    driver.find_element("css selector", "#login-form button").click()
    time.sleep(1.0)
    for name, hash_ in PAGES:
        driver.execute_script("location.hash = arguments[0]", hash_.format(bill=bill))
        time.sleep(1.0)
        if name == "alarms":  # a fault arriving live, shown in "Arriving now"
            assert env.pile is not None
            env.pile.status[2] = GunStatus.FAULTED
            env.run(env.pile.heartbeat())
            env.run(env.pile.heartbeat())
            time.sleep(1.0)
        if name == "reports":
            driver.find_element("id", "firmware-run").click()
            time.sleep(0.8)
        driver.execute_script("window.scrollTo(0, 0)")
        path = out / f"{name}.png"
        driver.save_screenshot(str(path))
        saved.append(path)
    driver.get(env.url + "/docs")
    time.sleep(1.0)
    driver.save_screenshot(str(out / "docs.png"))
    saved.append(out / "docs.png")
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "console")
    args = parser.parse_args(argv)
    reason = missing_browser_reason()
    if reason is not None:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    env = LiveGateway(sessions={"fault_confirm_samples": 2}).start()
    driver = make_driver(width=1280, height=760)
    try:
        bill = prepare(env)
        for path in shoot(driver, env, args.out, bill):
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"{path.stat().st_size // 1024} KiB")  # fmt: skip
    finally:
        driver.quit()
        env.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
