"""CP56Time2a, the 7-byte time stamp of YKC bills and time sync (IEC 60870-5 layout).

A decoded time keeps the calendar fields as the pile sent them, not an epoch value: a pile's
clock can be wrong or unset, and a bill with an impossible date must still be decoded, stored
and acknowledged. ``epoch_ms(tz)`` turns it into epoch milliseconds in the pile's zone (None
for an impossible date). The day-of-week and flag bits are kept so that a frame re-encodes
byte for byte; reserved bits are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

#: YKC piles keep China Standard Time; a connection may be given another zone.
CHINA = timezone(timedelta(hours=8))
SIZE = 7
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(slots=True, frozen=True)
class Cp56Time:
    year: int  # 2000..2127 (7 bits after 2000)
    month: int
    day: int
    hour: int
    minute: int
    millisecond: int  # within the minute: seconds * 1000 + ms
    weekday: int = 0  # IEC: 1 Monday .. 7 Sunday, 0 not used (what most platforms send)
    invalid: bool = False  # IV bit
    summer: bool = False  # SU bit

    def epoch_ms(self, tz: tzinfo = CHINA) -> int | None:
        """Epoch milliseconds of this wall-clock time in ``tz``; None if it is no real time."""
        if self.millisecond >= 60_000:
            return None
        seconds, ms = divmod(self.millisecond, 1000)
        try:
            moment = datetime(
                self.year,
                self.month,
                self.day,
                self.hour,
                self.minute,
                seconds,
                ms * 1000,
                tzinfo=tz,
            )
        except ValueError:
            return None
        return (moment - _EPOCH) // _MS

    @classmethod
    def from_epoch_ms(cls, epoch_ms: int, tz: tzinfo = CHINA, *, weekday: bool = False) -> Cp56Time:
        """The wall-clock time of ``epoch_ms`` in ``tz``. The day of week is left 0 unless
        asked for: firmware that reads the day byte unmasked then still sees the right day."""
        moment = _EPOCH.astimezone(tz) + timedelta(milliseconds=epoch_ms)
        return cls(
            moment.year,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second * 1000 + moment.microsecond // 1000,
            moment.isoweekday() if weekday else 0,
        )


def decode_cp56(raw: bytes) -> Cp56Time | None:
    """Seven bytes to a time; all zeros (no time recorded) to None."""
    if raw == b"\0\0\0\0\0\0\0":
        return None
    b2, b3, b4 = raw[2], raw[3], raw[4]
    return Cp56Time(
        2000 + (raw[6] & 0x7F),
        raw[5] & 0x0F,
        b4 & 0x1F,
        b3 & 0x1F,
        b2 & 0x3F,
        raw[0] | (raw[1] << 8),
        b4 >> 5,
        bool(b2 & 0x80),
        bool(b3 & 0x80),
    )


def encode_cp56(value: Cp56Time | None) -> bytes:
    """A time (or None for "no time") to seven bytes; ValueError when a field does not fit."""
    if value is None:
        return bytes(SIZE)
    if not isinstance(value, Cp56Time):
        raise ValueError(f"expected a Cp56Time or None, got {value!r}")
    limits = (
        ("year", value.year - 2000, 0x7F),
        ("month", value.month, 0x0F),
        ("day", value.day, 0x1F),
        ("hour", value.hour, 0x1F),
        ("minute", value.minute, 0x3F),
        ("millisecond", value.millisecond, 0xFFFF),
        ("weekday", value.weekday, 0x07),
    )
    for name, field, top in limits:
        if not 0 <= field <= top:
            raise ValueError(f"CP56Time2a {name} out of range: {value!r}")
    raw = bytes(
        (
            value.millisecond & 0xFF,
            value.millisecond >> 8,
            value.minute | (0x80 if value.invalid else 0),
            value.hour | (0x80 if value.summer else 0),
            value.day | (value.weekday << 5),
            value.month,
            value.year - 2000,
        )
    )
    if raw == bytes(SIZE):
        raise ValueError("an all-zero CP56Time2a reads back as 'no time'; use None")
    return raw
