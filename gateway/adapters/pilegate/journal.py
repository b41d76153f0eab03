"""Protocol v1 frames as the journal keeps them (gateway.dialect.JournalLine)."""

from __future__ import annotations

from dataclasses import asdict

from gateway.dialect import JournalLine
from protocol.pilegate import DecodeError, Message


def message_line(direction: str, seq: int, message: Message, raw: bytes) -> JournalLine:
    fields = {k: v.hex() if isinstance(v, bytes) else v for k, v in asdict(message).items()}
    return JournalLine(
        direction=direction,
        type_name=message.TYPE.name,
        raw=raw,
        fields=fields,
        seq=seq,
        msg_type=message.TYPE,
        gun=getattr(message, "gun", None),
        transaction_id=fields.get("transaction_id") or None,
    )


def error_line(error: DecodeError) -> JournalLine:
    return JournalLine(
        direction="in",
        type_name=f"INVALID:{error.kind}",
        raw=error.raw,
        fields={"error": error.kind, "detail": error.detail},
        seq=error.seq if error.seq is not None else -1,
        msg_type=error.msg_type if error.msg_type is not None else -1,
    )
