"""SET_TARIFF `tariff_id`: the u32 a pile sees for an operator's tariff name (§7.8).

Operators name tariffs with strings ("h1-t"); the wire carries a u32. The number is the
CRC-32 of the name's UTF-8 bytes, the same CRC-32 as zlib, PNG and Ethernet (reflected
polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF): stable across processes and
implementations, unlike a language's string hash. Golden values: "h1-t" -> 2369609885
(0x8D3D609D); "123456789" -> 0xCBF43926 (the standard check value).
"""

from __future__ import annotations

import zlib


def tariff_number(name: str) -> int:
    """The SET_TARIFF tariff_id of the tariff named `name`."""
    return zlib.crc32(name.encode("utf-8"))
