"""Every public sample frame decodes to the values the reference sheet reads from it and
re-encodes byte for byte (in the CRC byte order the sample used)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from protocol.ykc import (
    BadLength,
    Cp56Time,
    CrcOrder,
    WrongBodySize,
    YkcFrame,
    YkcFrameDecoder,
    decode_frame,
    encode,
)
from protocol.ykc.messages import (
    Bill,
    BillConfirm,
    BillV17,
    Heartbeat,
    HeartbeatReply,
    Login,
    LoginReply,
    ModelRequest,
    ModelVerify,
    ModelVerifyReply,
    Realtime,
    Reboot,
    RebootReply,
    RemoteStart,
    RemoteStartResult,
    TimeSync,
    Version,
)
from protocol.ykc.units import AMOUNT_PLACES, ENERGY_PLACES, PRICE_PLACES, to_decimal
from tests.protocol.ykc.samples import HIGH_FIRST, MALFORMED, PILE, SAMPLES

TRADE = "20231212000010323239000000000000"


def at(*args: int) -> Cp56Time:
    return Cp56Time(*args)


EXPECTED = {
    "login": Login(PILE, 1, 1, 16, "GV.95r13", 0, "898604D11722D0348606", 2),
    "login_reply": LoginReply(PILE, 0),
    "time_sync": TimeSync(PILE, Cp56Time(2024, 12, 18, 17, 15, 30_000)),
    "heartbeat": Heartbeat(PILE, "01", 0),
    "model_verify": ModelVerify(PILE, "0000"),
    "model_verify_reply": ModelVerifyReply(PILE, "0000", 0),
    "model_request": ModelRequest(PILE),
    "realtime": Realtime(
        trade_no="20231212000010000000001005713600",
        pile="32010600395600",
        gun="02",
        status=3,
        gun_homed=2,
        plugged=1,
        voltage_dv=3732,
        current_da=1012,
        cable_temp_c=34,
        cable_code="0000000000000000",
        soc=78,
        battery_max_temp_c=35,
        charged_min=16,
        remaining_min=32,
        energy_dwh=88000,
        loss_energy_dwh=0,
        amount_e4=93280,
        faults=0,
    ),
    "remote_start": RemoteStart(
        "00000000000012345678901234567890", PILE, "01", "5678901234567890",
        "5678901234567890", 10000,
    ),
    "remote_start_result": RemoteStartResult(
        "00000000000012345678901234567890", PILE, "01", 1, 0
    ),
    "bill": Bill(
        trade_no=TRADE,
        pile=PILE,
        gun="01",
        start_time=Cp56Time(2023, 12, 13, 17, 4, 14_000, weekday=3),
        end_time=Cp56Time(2023, 12, 13, 17, 9, 36_000, weekday=3),
        sharp_price_e5=150000, sharp_energy_dwh=0, sharp_loss_energy_dwh=0, sharp_amount_e4=0,
        peak_price_e5=130000, peak_energy_dwh=0, peak_loss_energy_dwh=0, peak_amount_e4=0,
        flat_price_e5=110000, flat_energy_dwh=0, flat_loss_energy_dwh=0, flat_amount_e4=0,
        valley_price_e5=90000, valley_energy_dwh=1650, valley_loss_energy_dwh=1650,
        valley_amount_e4=1400,
        meter_start_dwh=0,
        meter_end_dwh=0,
        total_energy_dwh=1650,
        total_loss_energy_dwh=1650,
        total_amount_e4=1400,
        vin="",
        trade_flag=1,
        trade_time=Cp56Time(2023, 12, 13, 17, 9, 36_000, weekday=3),
        stop_reason=0x40,
        physical_card="0000000000000000",
    ),
    "bill_confirm": BillConfirm(TRADE, 0),
    "reboot_reply": RebootReply(PILE, 1),
}  # fmt: skip

SEQ_BYTES = {name: raw[2:4] for name, raw in SAMPLES.items()}
VALID = sorted(set(SAMPLES) - MALFORMED)


def test_every_sample_is_covered() -> None:
    assert set(EXPECTED) == set(VALID)


@pytest.mark.parametrize("name", VALID)
def test_sample_decodes_to_the_sheet_values(name: str) -> None:
    frame = decode_frame(SAMPLES[name])
    assert isinstance(frame, YkcFrame), frame
    assert frame.message == EXPECTED[name]
    assert frame.seq.to_bytes(2, "little") == SEQ_BYTES[name]
    expected_order = CrcOrder.HIGH_FIRST if name in HIGH_FIRST else CrcOrder.LOW_FIRST
    assert frame.crc_order is expected_order


@pytest.mark.parametrize("name", VALID)
def test_sample_reencodes_byte_for_byte(name: str) -> None:
    frame = decode_frame(SAMPLES[name])
    assert isinstance(frame, YkcFrame)
    assert encode(frame.message, frame.seq, frame.crc_order) == SAMPLES[name]


def test_all_samples_in_one_stream_come_out_in_order() -> None:
    stream = b"".join(SAMPLES[name] for name in VALID)
    items = YkcFrameDecoder().feed(stream)
    assert [item.message for item in items if isinstance(item, YkcFrame)] == [
        EXPECTED[name] for name in VALID
    ]


def test_bill_times_are_china_time_and_money_is_exact() -> None:
    bill = EXPECTED["bill"]
    assert isinstance(bill, Bill)
    china = timezone(timedelta(hours=8))
    start = datetime(2023, 12, 13, 17, 4, 14, tzinfo=china)
    assert bill.start_time is not None
    assert bill.start_time.epoch_ms() == int(start.timestamp()) * 1000
    utc_ms = bill.start_time.epoch_ms(UTC)
    assert utc_ms == bill.start_time.epoch_ms() + 8 * 3600 * 1000
    assert to_decimal(bill.sharp_price_e5, PRICE_PLACES) == Decimal("1.50000")
    assert to_decimal(bill.valley_price_e5, PRICE_PLACES) == Decimal("0.9")
    assert to_decimal(bill.valley_energy_dwh, ENERGY_PLACES) == Decimal("0.1650")
    assert to_decimal(bill.total_amount_e4, AMOUNT_PLACES) == Decimal("0.14")


def test_realtime_sample_scaled_values() -> None:
    realtime = EXPECTED["realtime"]
    assert isinstance(realtime, Realtime)
    assert to_decimal(realtime.voltage_dv, 1) == Decimal("373.2")
    assert to_decimal(realtime.energy_dwh, ENERGY_PLACES) == Decimal("8.8")
    assert to_decimal(realtime.amount_e4, AMOUNT_PLACES) == Decimal("9.328")


def test_heartbeat_reply_sample_has_a_wrong_length_byte_and_ours_is_right() -> None:
    sample = SAMPLES["heartbeat_reply"]
    assert isinstance(decode_frame(sample), BadLength)
    ours = encode(HeartbeatReply(PILE, "01", 0), int.from_bytes(sample[2:4], "little"))
    assert ours == sample[:1] + b"\x0d" + sample[2:]  # the CRC does not cover the length


def test_reboot_sample_uses_jcpp_four_byte_control_and_we_send_specs_one_byte() -> None:
    sample = SAMPLES["reboot"]
    error = decode_frame(sample)
    assert isinstance(error, WrongBodySize) and error.seq == 3 and error.frame_type == 0x92
    ours = encode(Reboot(PILE, 1), 3)
    assert ours[:13] == b"\x68\x0c" + sample[2:13]
    assert ours[13] == 0x01 and len(ours) == 16
    assert decode_frame(ours).message == Reboot(PILE, 1)  # type: ignore[union-attr]


def test_v17_bill_layout_follows_the_sheet() -> None:
    """No public 0x3D sample is at hand: check the V1.7 layout's offsets and length instead
    (meter number, signed reading, meter protocol version, encryption after the end time)."""
    fields = {f.name: getattr(EXPECTED["bill"], f.name) for f in dataclasses.fields(Bill)}
    bill = BillV17(
        **fields,
        meter_number="123456789012",
        meter_ciphertext="AB" * 34,
        meter_protocol_version=0x0102,
        meter_encryption=7,
    )
    raw = encode(bill, 0x4600)
    body = raw[6:-2]
    assert raw[1] == 0xCD and raw[5] == 0x3D and len(raw) == 0xCD + 4
    legacy_body = SAMPLES["bill"][6:-2]
    assert body[:38] == legacy_body[:38]  # trade, pile, gun, start and end time
    assert body[38:44] == bytes.fromhex("123456789012")
    assert body[44:78] == b"\xab" * 34
    assert body[78:81] == b"\x02\x01\x07"
    assert body[81:] == legacy_body[38:]
    for version in (Version.V1_5, Version.V1_6, Version.V1_7):
        assert decode_frame(raw, version).message == bill  # type: ignore[union-attr]
        assert decode_frame(SAMPLES["bill"], version).message == EXPECTED["bill"]  # type: ignore[union-attr]
