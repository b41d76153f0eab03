"""Which tariffs a pile is given at login (the wire form is its dialect's adapter's)."""

from __future__ import annotations

from billing.tariff import SCOPE_RANK, Tariff

#: Reason prefix of a set_tariff refused before anything is sent: the tariff id already
#: names other prices (a tariff id is one definition, shared by the piles it is set on).
TARIFF_CONFLICT = "tariff_conflict"


def login_tariffs(tariffs: list[Tariff], current: Tariff, now_ms: int) -> list[Tariff]:
    """What a pile is sent at login: the tariff in force now, then each later one that will
    take over (a pile keeps future tariffs until their effective_from_ms, §7.8)."""
    later = sorted(
        (t for t in tariffs if t.effective_from_ms > now_ms and _outranks(t, current)),
        key=lambda t: t.effective_from_ms,
    )
    return [current, *later]


def _outranks(later: Tariff, current: Tariff) -> bool:
    # A later tariff of a wider scope does not replace the current one (pile beats station
    # beats default), so it is not sent.
    return SCOPE_RANK[later.scope_kind] >= SCOPE_RANK[current.scope_kind]
