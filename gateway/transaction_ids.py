"""Transaction ids: UUIDv7 (RFC 9562), as docs/protocol.md §3.6 promises piles.

Layout, most significant bit first: 48-bit Unix time in ms, version 7 (4 bits), a 12-bit
counter, variant 0b10 (2 bits), 62 random bits. The random bits keep ids of different
gateway instances apart; the counter keeps one process's ids strictly increasing within a
millisecond (RFC 9562 §6.2, method 1). It starts at a random value below 2048 each new
millisecond, so 2048 or more ids remain before it would overflow; should it overflow anyway,
or the clock step back, the generator borrows the next millisecond rather than go backwards.
"""

from __future__ import annotations

import secrets

_VERSION = 0x7
_VARIANT = 0b10
_COUNTER_MAX = 0xFFF
_MS_MAX = 2**48 - 1


class TransactionIds:
    """Generates time-ordered, unique transaction ids: 32 lowercase hex digits."""

    __slots__ = ("_counter", "_last_ms")

    def __init__(self) -> None:
        self._last_ms = -1
        self._counter = 0

    def new(self, now_ms: int) -> str:
        ms = now_ms & _MS_MAX
        if ms > self._last_ms:
            self._last_ms, self._counter = ms, secrets.randbits(11)
        elif self._counter < _COUNTER_MAX:
            self._counter += 1  # same millisecond (or the clock stepped back): count on
        else:
            self._last_ms, self._counter = self._last_ms + 1, secrets.randbits(11)
        value = (
            self._last_ms << 80
            | _VERSION << 76
            | self._counter << 64
            | _VARIANT << 62
            | secrets.randbits(62)
        )
        return value.to_bytes(16, "big").hex()
