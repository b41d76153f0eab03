"""Tell which protocol a pile speaks from the first bytes it sends on port 2406.

Both protocols start a frame with 0x68, but their second byte cannot agree:

* pilegate v1 (docs/protocol.md §2): ``68 | length u16 big-endian | seq | version 1 | type``.
  A frame is at most 1024 bytes, so the length is at most 1019 and its high byte is 0..3.
* YKC (docs/ykc.md): ``68 | length u8 | seq (2) | encryption flag 0/1 | type``. The length
  counts seq, flag and type, so it is at least 4.

So byte 1 alone points at one protocol. ``sniff`` still waits for the whole first frame and
checks its CRC (and the version byte or encryption flag) under that protocol's rules before
answering, so that line noise or a modem's banner (some 4G DTUs send one on connect) that
happens to contain 0x68 is skipped rather than taken for a frame: every 0x68 is tried, and
the first one that starts a complete valid frame decides.

When it is unsafe:

* It answers None ("need more") for as long as no complete, CRC-valid frame has arrived, so
  the caller must bound the wait (the login timeout) and the bytes it buffers
  (``SNIFF_LIMIT``). A pile whose first frame is corrupted is thus identified by its second.
* It relies on pilegate v1 frames staying within 1028 bytes (length high byte <= 3, today's
  limit is 1024); a larger protocol v1 MAX_FRAME_SIZE would let a v1 length look like a YKC
  one, and only the CRC check would then tell them apart (tests/protocol/ykc/test_sniff.py
  fails first).
* A YKC pile whose first frame carries a wrong length byte (as JCPP's 0x04 sample does) or a
  CRC in neither byte order is never recognised: such a pile could not be served anyway.
* Garbage that happens to form a CRC-valid frame of either protocol (chance about 1 in 65536
  per 0x68 examined) decides wrongly; the chosen decoder then reports the real frames as errors.
"""

from __future__ import annotations

from typing import Literal

from protocol.pilegate.codec import MAX_FRAME_SIZE, PROTOCOL_VERSION
from protocol.stream import START_BYTE, crc16_modbus

PILEGATE_VERSION = PROTOCOL_VERSION
PILEGATE_MAX_LENGTH = MAX_FRAME_SIZE - 5
YKC_MIN_LENGTH = 4
#: Bytes after which a caller should give up: more than any first frame of either protocol
#: (1024 for pilegate v1) plus room for a modem banner.
SNIFF_LIMIT = 2048

Dialect = Literal["ykc", "pilegate"]


def sniff(first_bytes: bytes | bytearray | memoryview) -> Dialect | None:
    """ "ykc" or "pilegate" once a whole valid frame of one of them is seen; None: need more."""
    data = bytes(first_bytes)
    pos = data.find(START_BYTE)
    while 0 <= pos < len(data) - 1:
        # An incomplete candidate does not stop the scan: a false 0x68 in a banner may
        # announce more bytes than the real frame after it.
        verdict = _at(data, pos)
        if verdict:
            return verdict
        pos = data.find(START_BYTE, pos + 1)
    return None


def _at(data: bytes, pos: int) -> Dialect | Literal[False] | None:
    """The protocol of a frame starting at ``pos``; None: incomplete; False: no frame here."""
    if data[pos + 1] < YKC_MIN_LENGTH:
        return _pilegate_at(data, pos)
    return _ykc_at(data, pos)


def _pilegate_at(data: bytes, pos: int) -> Literal["pilegate"] | Literal[False] | None:
    if len(data) - pos < 3:
        return None
    length = (data[pos + 1] << 8) | data[pos + 2]
    if not 4 <= length <= PILEGATE_MAX_LENGTH:
        return False
    end = pos + length + 5
    if len(data) < end:
        return None
    frame = data[pos:end]
    if frame[5] != PILEGATE_VERSION or crc16_modbus(frame[1:-2]) != frame[-2] | (frame[-1] << 8):
        return False
    return "pilegate"


def _ykc_at(data: bytes, pos: int) -> Literal["ykc"] | Literal[False] | None:
    length = data[pos + 1]
    end = pos + length + 4
    if len(data) > pos + 4 and data[pos + 4] > 1:
        return False  # encryption flag is 0 or 1
    if len(data) < end:
        return None
    frame = data[pos:end]
    crc = crc16_modbus(frame[2:-2])
    if crc not in (frame[-2] | (frame[-1] << 8), frame[-1] | (frame[-2] << 8)):
        return False
    return "ykc"
