"""The root of pilegate's exceptions.

Every exception class of protocol/, billing/ and gateway/ derives from ``PilegateError``, so a
caller can catch "anything pilegate raised on purpose" in one clause while a bug (a ``KeyError``
from our own code, say) still goes through. It lives in ``protocol/`` because that layer imports
nothing of ours, so billing/ and gateway/ may import it; sessions/, which imports nothing of
ours either, keeps its own root (``sessions.errors.SessionError``). A class that was raised as
a built-in error before keeps that built-in as its second base
(``class TariffError(PilegateError, ValueError)``): ``except ValueError`` still catches it.

The decoders' problems (``protocol.pilegate.errors.DecodeError`` and its YKC and OCPP kin)
are values,
not exceptions: they are returned in stream order, never raised, so they are not in this tree.
"""

from __future__ import annotations


class PilegateError(Exception):
    """Base of every exception pilegate defines."""
