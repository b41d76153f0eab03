"""The one canonical form of a pile id, shared by every entry point that names a pile (frames,
CLI, admin API, MQTT, WebSocket URL, storage, simulator): v1's rule (docs/protocol.md §3.2),
20 digits with 16 padded to 20, and a YKC pile's number, its 14 digits as they are (docs/ykc.md;
no v1 pile has 14). It lives beside the dialects, not inside one, so that the gateway core can
name piles without importing a dialect."""

from __future__ import annotations

import re

from protocol.error_root import PilegateError

PILE_ID_DIGITS = 20
YKC_PILE_DIGITS = 14


class PileIdError(PilegateError, ValueError):
    """Not a pile id: the message says what a pile id is and repeats what was given."""


def normalize_pile_id(pile_id: object) -> str:
    """20 decimal digits, a 16-digit id left-padded with zeros: a pile registered with 16
    digits is the same pile that logs in with 20."""
    text = pile_id.strip() if isinstance(pile_id, str) else pile_id
    if (
        not isinstance(text, str)
        or not text.isascii()
        or not text.isdigit()
        or len(text) not in (YKC_PILE_DIGITS, 16, PILE_ID_DIGITS)
    ):
        raise PileIdError(
            "a pile id is 16 or 20 decimal digits (16 are padded to 20), or a YKC pile's 14,"
            f" got {pile_id!r}"
        )
    if len(text) == YKC_PILE_DIGITS:
        return text  # a YKC pile number (docs/ykc.md): no v1 pile has 14 digits
    return text.zfill(PILE_ID_DIGITS)


_OTHER_DIALECT_ID = re.compile(r"[A-Za-z0-9._:-]{1,32}")


def canonical_pile_id(pile_id: object) -> str:
    """The stored form of a pile id of any dialect: a v1 id as ``normalize_pile_id`` gives it
    (16 digits padded to 20), any other pile's own id as it is (an OCPP charge point id, a YKC
    pile number: 1..32 characters of ``[A-Za-z0-9._:-]``). For the gateway's bookkeeping of
    piles already let in; the operator's entry points keep ``normalize_pile_id``."""
    text = pile_id.strip() if isinstance(pile_id, str) else pile_id
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) == 16:
        return normalize_pile_id(text)
    if isinstance(text, str) and _OTHER_DIALECT_ID.fullmatch(text):
        return text
    raise PileIdError(f"not a pile id of any dialect: {pile_id!r}")
