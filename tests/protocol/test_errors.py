"""Each decode problem becomes its typed error; out-of-range values fail to encode."""

from __future__ import annotations

import pytest

from protocol.pilegate import (
    MAX_FRAME_SIZE,
    BadCrc,
    BadField,
    BadLength,
    EncodeError,
    FrameDecoder,
    Garbage,
    MsgType,
    NackReason,
    TruncatedBody,
    UnknownType,
    UnsupportedVersion,
    decode_frame,
    encode,
)
from protocol.pilegate.codec import BODY_CODECS, Frame, crc16_modbus
from protocol.pilegate.examples import EXAMPLES, PILE, T0, TXID
from protocol.pilegate.messages import (
    AuthRequest,
    Bill,
    BillAck,
    Enable,
    GunReport,
    Heartbeat,
    HeartbeatAck,
    Login,
    SetTariff,
    StopCharge,
    TariffPrice,
    TariffSegment,
    TimeSync,
    Vin,
)
from tests.protocol.strategies import raw_frame

HEARTBEAT = encode(EXAMPLES[MsgType.HEARTBEAT][1], 0x1234)


def one(data: bytes):
    items = FrameDecoder().feed(data)
    assert len(items) >= 1
    return items[0]


def test_crc_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37


def test_bad_crc_names_the_seq() -> None:
    raw = bytearray(HEARTBEAT)
    raw[-1] ^= 0xFF
    error = one(bytes(raw))
    assert isinstance(error, BadCrc)
    assert (error.seq, error.msg_type, error.nack_reason) == (
        0x1234,
        MsgType.HEARTBEAT,
        NackReason.BAD_CRC,
    )


def test_bad_crc_in_body_then_next_frame_still_decoded() -> None:
    raw = bytearray(HEARTBEAT)
    raw[10] ^= 0x01
    items = FrameDecoder().feed(bytes(raw) + HEARTBEAT)
    assert isinstance(items[0], BadCrc)
    assert isinstance(items[-1], Frame) and items[-1].raw == HEARTBEAT
    assert all(not isinstance(i, Frame) for i in items[:-1])


@pytest.mark.parametrize("length", [MAX_FRAME_SIZE - 4, 0x1000, 0xFFFF])
def test_length_over_max_is_refused_without_waiting(length: int) -> None:
    decoder = FrameDecoder()
    items = decoder.feed(b"\x68" + length.to_bytes(2, "big"))
    assert isinstance(items[0], BadLength)
    assert items[0].nack_reason is None  # nothing to name: no NACK
    assert decoder.buffered < 3


@pytest.mark.parametrize("length", [0, 1, 3])
def test_length_below_minimum_is_refused(length: int) -> None:
    items = FrameDecoder().feed(b"\x68" + length.to_bytes(2, "big"))
    assert isinstance(items[0], BadLength)


def test_maximum_length_is_accepted() -> None:
    # L = 1019 is a 1024-byte frame: waited for, not refused.
    decoder = FrameDecoder()
    assert decoder.feed(b"\x68" + (MAX_FRAME_SIZE - 5).to_bytes(2, "big")) == []
    assert decoder.buffered == 3


def test_unknown_type_with_valid_crc() -> None:
    error = one(raw_frame(0x7F, b"\x01\x02", seq=321))
    assert isinstance(error, UnknownType)
    assert (error.seq, error.msg_type, error.nack_reason) == (321, 0x7F, NackReason.UNKNOWN_TYPE)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version(version: int) -> None:
    body = BODY_CODECS[MsgType.TIME_SYNC].encode(TimeSync(T0))
    error = one(raw_frame(MsgType.TIME_SYNC, body, seq=5, version=version))
    assert isinstance(error, UnsupportedVersion)
    assert (error.seq, error.nack_reason) == (5, NackReason.UNSUPPORTED_VERSION)


@pytest.mark.parametrize("msg_type", sorted(EXAMPLES), ids=lambda t: MsgType(t).name)
def test_body_one_byte_short_is_truncated(msg_type: MsgType) -> None:
    seq, message = EXAMPLES[msg_type]
    body = BODY_CODECS[msg_type].encode(message)
    if not body:
        pytest.skip("empty body")
    error = one(raw_frame(msg_type, body[:-1], seq=seq))
    assert isinstance(error, TruncatedBody), error
    assert (error.seq, error.msg_type, error.nack_reason) == (seq, msg_type, NackReason.TRUNCATED)


def test_heartbeat_count_larger_than_body_is_truncated() -> None:
    error = one(raw_frame(MsgType.HEARTBEAT, b"\x03" + bytes(21 * 2)))
    assert isinstance(error, TruncatedBody)
    assert isinstance(one(raw_frame(MsgType.HEARTBEAT, b"")), TruncatedBody)


@pytest.mark.parametrize("msg_type", sorted(EXAMPLES), ids=lambda t: MsgType(t).name)
def test_body_one_byte_long_is_bad_field(msg_type: MsgType) -> None:
    seq, message = EXAMPLES[msg_type]
    body = BODY_CODECS[msg_type].encode(message) + b"\x00"
    error = one(raw_frame(msg_type, body, seq=seq))
    assert isinstance(error, BadField), error
    assert error.nack_reason is NackReason.BAD_FIELD


def test_non_bcd_pile_id_is_bad_field() -> None:
    body = bytearray(BODY_CODECS[MsgType.LOGIN].encode(EXAMPLES[MsgType.LOGIN][1]))
    body[3] = 0x4A  # digit A
    error = one(raw_frame(MsgType.LOGIN, bytes(body), seq=1))
    assert isinstance(error, BadField) and error.seq == 1


def test_non_ascii_text_is_bad_field() -> None:
    body = bytearray(BODY_CODECS[MsgType.VIN].encode(EXAMPLES[MsgType.VIN][1]))
    body[17] = 0xC3  # first VIN character
    error = one(raw_frame(MsgType.VIN, bytes(body), seq=6))
    assert isinstance(error, BadField) and error.msg_type == MsgType.VIN


def test_garbage_before_a_frame() -> None:
    items = FrameDecoder().feed(b"\x00\x01\x02" + HEARTBEAT)
    assert isinstance(items[0], Garbage) and items[0].skipped == 3
    assert items[0].nack_reason is None
    assert isinstance(items[1], Frame)


def test_decode_frame_reports_incomplete_and_extra_bytes() -> None:
    assert isinstance(decode_frame(HEARTBEAT[:-1]), TruncatedBody)
    assert isinstance(decode_frame(HEARTBEAT + b"\x00"), Garbage)
    assert isinstance(decode_frame(HEARTBEAT + HEARTBEAT), BadField)
    assert isinstance(decode_frame(HEARTBEAT), Frame)


# --- encode ------------------------------------------------------------------------------

OUT_OF_RANGE = [
    Enable(256),
    Enable(-1),
    StopCharge(1, TXID, 300),
    TimeSync(-1),
    TimeSync(2**64),
    Heartbeat((GunReport(1, 2, 70_000, 0, 0, 0, 0, 0),)),
    Heartbeat((GunReport(1, 2, 0, 0, 0, 0, 2**32, 0),)),
    BillAck(TXID, 0, 2**32),
    StopCharge(1, "abc", 2),  # transaction id not 32 hex digits
    StopCharge(1, "zz" * 16, 2),
    AuthRequest(1, 3, "x" * 21),  # text wider than its field
    AuthRequest(1, 3, "é"),  # not ASCII
    AuthRequest(1, 3, "a\0b"),  # NUL inside text
    Vin(1, TXID, "LSVAU2180N21832945"),
    SetTariff(1, T0, (TariffPrice(1, 1),) * 3),  # prices must be exactly 4
    SetTariff(1, T0, (TariffPrice(1, 1),) * 4, (TariffSegment(0, 1),) * 256),
    Heartbeat((GunReport(1, 0, 0, 0, 0, 0, 0, 0),) * 49),  # frame > 1024 bytes
    Enable(None),  # type: ignore[arg-type]
    Enable(1.5),  # type: ignore[arg-type]
]


def _bill(**amounts: int) -> Bill:
    base = dict(energy_amount_fen=0, service_amount_fen=0, idle_fee_fen=0, total_amount_fen=0)
    base.update(amounts)
    return Bill(TXID, 1, 1, "a", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, stop_reason=0, **base)


@pytest.mark.parametrize("message", OUT_OF_RANGE, ids=repr)
def test_out_of_range_values_raise_encode_error(message) -> None:
    with pytest.raises(EncodeError):
        encode(message, 1)


@pytest.mark.parametrize("amount", [2**31, -(2**31) - 1])
def test_amount_outside_i32_raises_encode_error(amount: int) -> None:
    with pytest.raises(EncodeError):
        encode(_bill(total_amount_fen=amount), 1)


def test_negative_amounts_are_carried_not_refused() -> None:
    # Signed on the wire so that a bad pile's negative amount is visible to the gateway.
    bill = _bill(energy_amount_fen=-5, total_amount_fen=-(2**31))
    assert decode_frame(encode(bill, 1)).message == bill


@pytest.mark.parametrize("text", ["", "A" * 16])
def test_text_empty_and_full_width(text: str) -> None:
    login = Login(PILE, text, text, text, 1, 1, 0)
    assert decode_frame(encode(login, 1)).message == login


def test_all_zero_transaction_id_means_none() -> None:
    raw = encode(StopCharge(1, "", 2), 1)
    assert raw[8:24] == bytes(16)
    assert decode_frame(raw).message.transaction_id == ""


def test_heartbeat_ack_is_nine_bytes() -> None:
    raw = encode(HeartbeatAck(), 2)
    assert raw[:7] == bytes.fromhex("68000400020182") and len(raw) == 9


@pytest.mark.parametrize("auth", [b"\x01" * 3, b"\x01" * 40])
def test_login_auth_of_wrong_length_raises_encode_error(auth: bytes) -> None:
    with pytest.raises(EncodeError):
        encode(Login(PILE, "V", "M", "F", 1, 1, 0, auth), 1)


@pytest.mark.parametrize("seq", [-1, 0x10000])
def test_seq_out_of_range_raises_encode_error(seq: int) -> None:
    with pytest.raises(EncodeError):
        encode(HeartbeatAck(), seq)


def test_text_with_inner_nul_is_bad_field() -> None:
    body = bytearray(BODY_CODECS[MsgType.VIN].encode(Vin(1, "", "AB")))
    body[17 + 3] = ord("C")  # "AB\0C" + NUL padding
    assert isinstance(one(raw_frame(MsgType.VIN, bytes(body))), BadField)
