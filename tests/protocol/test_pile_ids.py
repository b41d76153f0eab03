"""The one pile-id rule (docs/protocol.md §3.2), used by every entry point."""

from __future__ import annotations

import pytest

from protocol.pilegate import Login, PileIdError, normalize_pile_id


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("44030600030000200060", "44030600030000200060"),
        ("4403060003000020", "00004403060003000020"),
        (" 4403060003000020\n", "00004403060003000020"),  # pasted with spaces
    ],
)
def test_16_and_20_digits_are_pile_ids(given: str, canonical: str) -> None:
    assert normalize_pile_id(given) == canonical
    assert normalize_pile_id(canonical) == canonical  # idempotent


def test_a_ykc_pile_number_is_its_14_digits() -> None:
    assert normalize_pile_id(" 32010600019236") == "32010600019236"  # not padded: YKC's own
    with pytest.raises(PileIdError, match="or a YKC pile's 14"):
        normalize_pile_id("3201060001923")


@pytest.mark.parametrize(
    "bad",
    ["12345", "'; DROP TABLE bills; --", "440306000300002006", "4403060003000020006x",
     "\uff14" * 16, "", None, 4403060003000020],
)  # fmt: skip
def test_anything_else_is_refused_with_a_clear_message(bad: object) -> None:
    with pytest.raises(PileIdError, match="a pile id is 16 or 20 decimal digits"):
        normalize_pile_id(bad)
    assert issubclass(PileIdError, ValueError)


def test_login_uses_the_same_rule() -> None:
    assert Login("4403060003000020", "A", "B", "C", 1, 1, 0).pile_id == "00004403060003000020"
    with pytest.raises(PileIdError):
        Login("12345", "A", "B", "C", 1, 1, 0)
