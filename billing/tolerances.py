"""The table of tolerances: how far a bill may be off before a code is raised.

One place for every number that validation (codes 3-6) and reconciliation (6-11, amounts)
compare against; docs/protocol.md §4.10 lists the same table and tests/billing checks that
the two agree. A check raises its code when the difference is strictly greater than the
tolerance ("> tol"); a percentage is of the reference named here (the gateway's figure, or
the bill's own meter), never of the larger of the two, so that a pile cannot widen its own
tolerance by inflating its figure.

Units: energy dWh (0.1 Wh), time ms, money fen, ratios basis points (BP = 100 %).
"""

from __future__ import annotations

from billing.money import BP

HOUR_MS = 3_600_000

# 3: pile clocks drift; times may disagree by this much before they count as disordered.
CLOCK_SKEW_MS = 300_000

# 4: the bill's energy against its own meter delta: max(absolute, ratio of the delta).
METER_ENERGY_DWH = 1_000
METER_ENERGY_BP = 200
# 4: average power over the charge against the pile model's limit: this much over it, after
# taking POWER_SLACK_DWH off the energy (second-resolution times on very short charges).
POWER_MARGIN_BP = 1_000
POWER_SLACK_DWH = 1_000

# 5 and 6: the longest plausible charge and idle time.
MAX_CHARGE_MS = 24 * HOUR_MS
MAX_IDLE_MS = 24 * HOUR_MS
# 5: energy above this with no charge time.
ZERO_DURATION_ENERGY_DWH = 1_000

# 6: service end after the gateway's own end of the service; 10: idle time difference.
IDLE_MS = 120_000

# 8: bill energy against the gateway's observation: max(absolute, ratio of the observation).
ENERGY_DIFFERS_DWH = 100
ENERGY_DIFFERS_BP = 200

# 9: charge duration against the gateway's (status sampling and clock drift).
CHARGE_DURATION_MS = 120_000

# 11: the bill shows less than this share of what the gateway saw flow ...
ENERGY_LOST_BP = 5_000
# ... and the gateway saw at least this much; or the meter advanced by more than this and
# the bill shows no energy.
ENERGY_LOST_MIN_DWH = 1_000

# Amounts (BILL_ACK bits 16 and 18): rounding differences between systems, per priced line.
AMOUNT_FEN = 1


def exceeds(value: int, reference: int, absolute: int, ratio_bp: int) -> bool:
    """|value - reference| > max(absolute, ratio_bp of |reference|), in integers."""
    diff = abs(value - reference)
    return diff > absolute and diff * BP > ratio_bp * abs(reference)
