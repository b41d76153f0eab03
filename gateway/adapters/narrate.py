"""Journal frames in words, whichever dialect wrote them: each dialect's rows carry its own
type names (YKC's are ``YKC_<TYPE>``), and each adapter puts its own in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.adapters.pilegate.narrate import describe_frame as describe_pilegate
from gateway.adapters.ykc.describe import describe_ykc


def describe_frame(type_name: str, fields: Mapping[str, Any]) -> str:
    """The decoded meaning of a journal frame in words."""
    ykc = describe_ykc(type_name, fields)
    return ykc if ykc is not None else describe_pilegate(type_name, fields)
