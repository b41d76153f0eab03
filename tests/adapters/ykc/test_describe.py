"""`pilegate frames` shows YKC frames decoded: every public sample has a meaning in words."""

from __future__ import annotations

import dataclasses

import orjson

from gateway.adapters.narrate import describe_frame
from gateway.reports import bill_frame_summary
from protocol.ykc import YkcFrame, decode_frame
from tests.protocol.ykc.samples import SAMPLES


def row_of(name: str) -> tuple[str, dict[str, object]]:
    frame = decode_frame(SAMPLES[name])
    assert isinstance(frame, YkcFrame)
    fields = orjson.loads(orjson.dumps(dataclasses.asdict(frame.message)))  # as the journal keeps
    return f"YKC_{frame.message.TYPE.name}", fields


def test_every_decodable_public_sample_reads_in_words() -> None:
    for name in SAMPLES:
        if isinstance(decode_frame(SAMPLES[name]), YkcFrame):
            type_name, fields = row_of(name)
            meaning = describe_frame(type_name, fields)
            assert "=" not in meaning, (name, meaning)  # not the generic key=value fallback


def test_the_sample_bill_and_realtime_meanings() -> None:
    bill = describe_frame(*row_of("bill"))
    assert "0.1650 kWh" in bill and "0.1400 CNY" in bill and "2023-12-13 17:04:14" in bill
    assert "stop reason 0x40 (normal)" in bill
    assert describe_frame(*row_of("realtime")).startswith("gun 02 charging, plugged: 8.8000 kWh")
    assert describe_frame("YKC_INVALID:bad_crc", {"error": "bad_crc", "detail": "x"}).startswith(
        "undecodable YKC frame"
    )


def test_a_ykc_bills_frames_summarise_like_v1s() -> None:
    rows = [
        {"type": "YKC_LOGIN", "direction": "in", "at_ms": 1},
        {"type": "YKC_BILL", "direction": "in", "at_ms": 5},
        {"type": "YKC_BILL_CONFIRM", "direction": "out", "at_ms": 6},
    ]
    s = bill_frame_summary(rows)
    assert (s["login_ms"], s["bill_ms"], s["bill_ack_ms"]) == (1, 5, 6)
