"""A YKC bill as pilegate's PileBill: the public sample bill and hand-made ones."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

from gateway.adapters.ykc.bills import fen, pile_bill
from gateway.adapters.ykc.codes import stop_kind
from protocol.ykc import Bill, BillV17, decode_frame
from tests.protocol.ykc.samples import SAMPLES


def sample_bill() -> Bill:
    frame = decode_frame(SAMPLES["bill"])
    assert not isinstance(frame, Exception) and isinstance(frame.message, Bill)
    return frame.message


def test_the_public_sample_bill() -> None:
    b = pile_bill(sample_bill())
    assert b.transaction_id == "20231212000010323239000000000000"
    assert b.gun == 1 and b.channel == "own_app"
    # 2023-12-13 17:04:14 and 17:09:36 China time.
    assert b.charge_start_ms == 1702458254000
    assert b.charge_end_ms == 1702458576000 == b.service_end_ms
    assert (b.energy_dwh, b.valley_dwh, b.sharp_dwh) == (1650, 1650, 0)
    assert b.total_amount_fen == 14 == b.energy_amount_fen  # 0.1400 CNY
    assert (b.service_amount_fen, b.idle_fee_fen) == (0, 0)
    assert b.stop_reason == 0x40 and stop_kind(b.stop_reason) == "normal"
    assert b.account == ""  # no card, no VIN, no session


def test_the_session_gives_account_and_authorisation_time() -> None:
    b = pile_bill(sample_bill(), account="acc-1", authorised_ms=1702458200000)
    assert (b.account, b.authorised_ms) == ("acc-1", 1702458200000)


def test_amounts_round_half_up_to_the_fen() -> None:
    assert [fen(x) for x in (0, 49, 50, 149, 150, 93280)] == [0, 0, 1, 1, 2, 933]


def test_the_trade_time_is_the_piles_end_of_service() -> None:
    from protocol.ykc import Cp56Time

    later = Cp56Time(2023, 12, 14, 3, 9, 36_000)  # ten hours after the end of charging
    b = pile_bill(replace(sample_bill(), trade_time=later))
    assert b.service_end_ms - b.charge_end_ms == 10 * 3_600_000
    earlier = Cp56Time(2023, 12, 13, 17, 0, 0)
    assert pile_bill(replace(sample_bill(), trade_time=earlier)).service_end_ms == b.charge_end_ms


def test_a_card_and_missing_times() -> None:
    b = pile_bill(replace(sample_bill(), physical_card="00000000D14B0A54", start_time=None))
    assert b.account == "00000000D14B0A54"
    assert b.charge_start_ms == 0  # validation reports the time anomaly; the bill is kept


def test_a_v17_bill_maps_the_same_way() -> None:
    v15 = sample_bill()
    fields = {f.name: getattr(v15, f.name) for f in dataclasses.fields(v15)}
    v17 = BillV17(
        **fields, meter_number="000000000001", meter_ciphertext="00" * 34,
        meter_protocol_version=1, meter_encryption=0,
    )  # fmt: skip
    assert pile_bill(v17) == pile_bill(v15)


def test_stop_reason_kinds() -> None:
    assert [stop_kind(c) for c in (0x45, 0x4A, 0x69, 0x6A, 0x90)] == [
        "normal", "start_failed", "start_failed", "abnormal", "unknown",
    ]  # fmt: skip


def test_the_amount_is_split_by_the_models_electricity_and_service_prices() -> None:
    # The sample bill: 0.1650 kWh in the valley at 0.90 CNY/kWh, one amount of 0.1400 CNY.
    # A model of valley 0.30 electricity + 0.60 service splits it 0.0467 + 0.0933.
    prices = ((0, 0), (0, 0), (0, 0), (30_000, 60_000))
    b = pile_bill(sample_bill(), model_prices_e5=prices)
    assert (b.energy_amount_fen, b.service_amount_fen, b.total_amount_fen) == (5, 9, 14)
    no_service = ((0, 0), (0, 0), (0, 0), (90_000, 0))
    assert pile_bill(sample_bill(), model_prices_e5=no_service).service_amount_fen == 0
