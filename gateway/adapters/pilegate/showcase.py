"""Protocol v1 shown: every message encoded and decoded back (`pilegate demo --codec`), and the
example tariff the simulated piles bill with."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any, cast

from billing.tariff import ScopeKind, Tariff
from gateway.adapters.pilegate.tariffs import tariff_from_message
from protocol.pilegate import Frame, FrameDecoder, MsgType, encode
from protocol.pilegate.examples import EXAMPLES
from protocol.pilegate.messages import SetTariff


def example_tariff(tariff_id: str, scope_kind: ScopeKind, scope_id: str) -> Tariff:
    """The tariff of the example SET_TARIFF (the simulator's), as the gateway keeps it."""
    example = cast(SetTariff, EXAMPLES[MsgType.SET_TARIFF][1])
    return tariff_from_message(example, tariff_id, scope_kind, scope_id)


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
        if not isinstance(decoded, Frame):
            print(f"{msg_type.name}: does not decode: {decoded.detail}")
            continue
        print(f"{msg_type.name} (0x{msg_type:02x}), seq {seq}, {len(frame)} bytes")
        print(f"  hex: {frame.hex(' ')}")
        for f in fields(decoded.message):
            print(f"  {f.name:>20} = {_show(getattr(decoded.message, f.name))}")
        if decoded.message != message:
            print("  MISMATCH after decoding")
            return 1
    print(f"{len(EXAMPLES)} of {len(MsgType)} message types round-tripped.")
    return 0
