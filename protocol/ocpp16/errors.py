"""OCPP-J 1.6 CALLERROR codes and the typed error every bad input becomes.

The codes keep the 1.6 spellings (``FormationViolation``, ``OccurenceConstraintViolation``): the
OCPP-J errata calls them typos but will not fix them, and 1.6 peers expect them. When we read a
peer's CALLERROR we also accept the later spellings so a 2.x-minded peer is still understood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    NOT_IMPLEMENTED = "NotImplemented"  # action unknown to the receiver
    NOT_SUPPORTED = "NotSupported"  # action known but not supported
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"  # payload incomplete
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"  # not the PDU structure of the action
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"  # a field has a bad value
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"  # a field missing / repeated
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"  # a field has the wrong data type
    GENERIC_ERROR = "GenericError"


_ALIASES = {
    "FormatViolation": ErrorCode.FORMATION_VIOLATION,
    "OccurrenceConstraintViolation": ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
}


def parse_error_code(text: str) -> ErrorCode | None:
    """The code named in a peer's CALLERROR, either spelling; None when it is not a 1.6 code."""
    try:
        return ErrorCode(text)
    except ValueError:
        return _ALIASES.get(text)


@dataclass(slots=True, frozen=True)
class OcppError:
    """A problem found in a frame or payload, ready to become a CALLERROR.

    ``unique_id`` is the id to answer with; None when the frame was not a CALL we may answer
    (a broken CALLRESULT/CALLERROR is never answered, or two peers could bounce errors forever).
    """

    code: ErrorCode
    description: str
    unique_id: str | None = None
    action: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    raw: str = ""  # the offending text, cut to 200 characters, for the log line

    def for_call(self, unique_id: str, action: str | None = None) -> OcppError:
        return OcppError(self.code, self.description, unique_id, action, self.details, self.raw)
