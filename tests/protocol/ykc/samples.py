"""Public YKC sample frames (published with the JCPP project's YKC module) and what they
hold. Kept here as bytes so the tests need nothing outside the repository."""

from __future__ import annotations


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


PILE = "20231212000010"

SAMPLES: dict[str, bytes] = {
    "login": _hex(
        "68 22 00 19 00 01 20 23 12 12 00 00 10 01 01 10 47 56 2E 39 35 72 31 33 00"
        " 89 86 04 D1 17 22 D0 34 86 06 02 87 4E"
    ),
    "login_reply": _hex("68 0C 00 19 00 02 20 23 12 12 00 00 10 00 A1 55"),
    "time_sync": _hex("68 12 01 00 00 56 20 23 12 12 00 00 10 30 75 0F 11 12 0C 18 04 7D"),
    "heartbeat": _hex("68 0d 25 d3 00 03 20 23 12 12 00 00 10 01 00 D1 AC"),
    "heartbeat_reply": _hex("68 09 25 D3 00 04 20 23 12 12 00 00 10 01 00 1D 0B"),
    "model_verify": _hex("68 0d 71 ad 00 05 20 23 12 12 00 00 10 00 00 22 2B"),
    "model_verify_reply": _hex("68 0E AD 71 00 06 20 23 12 12 00 00 10 00 00 00 9E 1A"),
    "model_request": _hex("68 0B 00 07 00 09 20 23 12 12 00 00 10 72 ED"),
    "realtime": _hex(
        "68 40 bb bd 00 13 20 23 12 12 00 00 10 00 00 00 00 10 05 71 36 00 32 01 06 00 39"
        " 56 00 02 03 02 01 94 0e f4 03 54 00 00 00 00 00 00 00 00 4e 55 10 00 20 00 c0 57"
        " 01 00 00 00 00 00 60 6c 01 00 00 00 93 73"
    ),
    "remote_start": _hex(
        "68 30 01 00 00 34 00 00 00 00 00 00 12 34 56 78 90 12 34 56 78 90 20 23 12 12 00"
        " 00 10 01 56 78 90 12 34 56 78 90 56 78 90 12 34 56 78 90 10 27 00 00 5f d9"
    ),
    "remote_start_result": _hex(
        "68 1E 00 02 00 33 00 00 00 00 00 00 12 34 56 78 90 12 34 56 78 90 20 23 12 12 00"
        " 00 10 01 01 00 41 1D"
    ),
    "bill": _hex(
        "68 a2 00 46 00 3b 20 23 12 12 00 00 10 32 32 39 00 00 00 00 00 00 20 23 12 12 00"
        " 00 10 01 b0 36 04 11 6d 0c 17 a0 8c 09 11 6d 0c 17 f0 49 02 00 00 00 00 00 00 00"
        " 00 00 00 00 00 00 d0 fb 01 00 00 00 00 00 00 00 00 00 00 00 00 00 b0 ad 01 00 00"
        " 00 00 00 00 00 00 00 00 00 00 00 90 5f 01 00 72 06 00 00 72 06 00 00 78 05 00 00"
        " 00 00 00 00 00 00 00 00 00 00 72 06 00 00 72 06 00 00 78 05 00 00 00 00 00 00 00"
        " 00 00 00 00 00 00 00 00 00 00 00 00 01 a0 8c 09 11 6d 0c 17 40 00 00 00 00 00 00"
        " 00 00 03 e0"
    ),
    "bill_confirm": _hex(
        "68 15 46 00 00 40 20 23 12 12 00 00 10 32 32 39 00 00 00 00 00 00 00 9D 7B"
    ),
    "reboot": _hex("68 0f 03 00 00 92 20 23 12 12 00 00 10 00 00 00 01 37 2b"),
    "reboot_reply": _hex("68 0C 00 11 00 91 20 23 12 12 00 00 10 01 F2 03"),
}

#: Samples whose CRC is sent high byte first (the others low byte first).
HIGH_FIRST = {
    "heartbeat",
    "model_verify",
    "model_request",
    "realtime",
    "remote_start_result",
    "bill",
}

#: Samples that are not valid frames as published: the heartbeat reply's length byte is 0x09
#: for 13 counted bytes, and the reboot carries a 4-byte execution control where SPEC has 1.
MALFORMED = {"heartbeat_reply", "reboot"}
