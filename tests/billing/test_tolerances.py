"""The table of tolerances in billing/tolerances.py is the one docs/protocol.md §4.10 states."""

from __future__ import annotations

from pathlib import Path

from billing import tolerances as T
from billing.reconcile import DEFAULT_RECONCILE
from billing.validation import DEFAULT_VALIDATION

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def _section() -> str:
    text = DOC.read_text()
    return text[text.index("### 4.10 ") : text.index("## 5. ")]


def _pct(bp: int) -> str:
    return f"{bp / 100:g} %"


def test_documented_tolerances_are_the_code_defaults() -> None:
    doc = _section()
    expected = [
        f"t = {T.CLOCK_SKEW_MS:,} ms",
        f"max({T.METER_ENERGY_DWH:,} dWh, {_pct(T.METER_ENERGY_BP)} of the meter delta)",
        f"\N{MINUS SIGN} {T.POWER_SLACK_DWH:,} dWh) \N{MULTIPLICATION SIGN} 360",
        f"\N{MULTIPLICATION SIGN} {_pct(10_000 + T.POWER_MARGIN_BP)}",
        f"> {T.MAX_CHARGE_MS // T.HOUR_MS} h",
        f"`energy_dwh` > {T.ZERO_DURATION_ENERGY_DWH:,} dWh",
        f"> {T.MAX_IDLE_MS // T.HOUR_MS} h",
        f"+ {T.IDLE_MS:,} ms",
        f"max({T.ENERGY_DIFFERS_DWH:,} dWh, {_pct(T.ENERGY_DIFFERS_BP)} of E)",
        f"> {T.CHARGE_DURATION_MS:,} ms",
        f"E ≥ {T.ENERGY_LOST_MIN_DWH:,} dWh and `energy_dwh` < {_pct(T.ENERGY_LOST_BP)} of E",
        f"{T.AMOUNT_FEN} fen per priced period",
    ]
    missing = [e for e in expected if e not in doc]
    assert not missing, missing


def test_configs_default_to_the_table() -> None:
    v, r = DEFAULT_VALIDATION, DEFAULT_RECONCILE
    assert (v.clock_skew_ms, v.energy_tolerance_dwh, v.energy_tolerance_bp) == (
        T.CLOCK_SKEW_MS, T.METER_ENERGY_DWH, T.METER_ENERGY_BP,
    )  # fmt: skip
    assert (r.energy_tolerance_dwh, r.energy_tolerance_bp, r.idle_tolerance_ms) == (
        T.ENERGY_DIFFERS_DWH, T.ENERGY_DIFFERS_BP, T.IDLE_MS,
    )  # fmt: skip
    assert r.duration_tolerance_ms == T.CHARGE_DURATION_MS
