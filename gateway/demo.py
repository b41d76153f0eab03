"""The main job's demonstration."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from protocol import FrameDecoder, MsgType, encode
from protocol.examples import EXAMPLES


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return value.hex() or "''"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if is_dataclass(value):
        inner = ", ".join(f"{f.name}={_show(getattr(value, f.name))}" for f in fields(value))
        return f"{type(value).__name__}({inner})"
    return repr(value)


def codec_demo() -> int:
    """Encode every message type, show the frame as hex, decode it back field by field."""
    decoder = FrameDecoder()
    for msg_type, (seq, message) in EXAMPLES.items():
        frame = encode(message, seq)
        (decoded,) = decoder.feed(frame)
        print(f"{msg_type.name} (0x{msg_type:02x}), seq {seq}, {len(frame)} bytes")
        print(f"  hex: {frame.hex(' ')}")
        for f in fields(decoded.message):
            print(f"  {f.name:>20} = {_show(getattr(decoded.message, f.name))}")
        if decoded.message != message:
            print("  MISMATCH after decoding")
            return 1
    print(f"{len(EXAMPLES)} of {len(MsgType)} message types round-tripped.")
    return 0
