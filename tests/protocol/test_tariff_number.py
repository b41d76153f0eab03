"""§7.8: SET_TARIFF tariff_id is the CRC-32 of the tariff name's UTF-8 bytes."""

from __future__ import annotations

from pathlib import Path

from billing.tariff import ScopeKind
from gateway.adapters.pilegate.tariffs import tariff_message
from protocol.pilegate import tariff_number
from tests.billing.fixtures import TARIFF

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_golden_values_of_the_spec() -> None:
    assert tariff_number("123456789") == 0xCBF43926  # the CRC-32 check value
    assert tariff_number("h1-t") == 2369609885 == 0x8D3D609D  # issue 11's field value
    assert tariff_number("峰谷-2020") == 3950921413  # names are UTF-8, not ASCII only
    text = DOC.read_text()
    section = text[text.index("### 7.8 SET_TARIFF") : text.index("### 7.9 ")]
    assert "`h1-t`" in section and "2369609885 = 0x8D3D609D" in section


def test_the_gateway_sends_the_number_of_the_name() -> None:
    from dataclasses import replace

    named = replace(TARIFF, tariff_id="h1-t", scope_kind=ScopeKind.PILE, scope_id="P1")
    assert tariff_message(named).tariff_id == 2369609885
