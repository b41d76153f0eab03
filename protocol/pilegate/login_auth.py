"""Pile authentication at LOGIN (docs/protocol.md §6.1.1), sans-I/O: no clock, no storage.

The ``auth`` field of LOGIN carries HMAC-SHA256, keyed with the pile's 32-byte secret, over

    b"pilegate-login-v1" || LOGIN body bytes 0..75

that is the 17 ASCII bytes of the label followed by the body exactly as sent, from
``pile_id`` through ``pile_time_ms`` (everything before ``auth``). ``pile_time_ms`` makes
every login's MAC different and lets the gateway refuse a login signed too long ago or too
far ahead; ``ReplayGuard`` remembers the MACs accepted within that window so the same bytes
are refused a second time.

The gateway passes its clock in; storage of secrets and the policy live in ``gateway``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
from collections.abc import Iterable
from dataclasses import replace
from enum import Enum

from protocol.pilegate.codec import BODY_CODECS
from protocol.pilegate.codes import MsgType
from protocol.pilegate.messages import Login

LABEL = b"pilegate-login-v1"
SECRET_BYTES = 32
MAC_BYTES = 32
MAC_INPUT_BODY_BYTES = 76  # LOGIN body offsets 0..75: pile_id .. pile_time_ms
NO_MAC = bytes(MAC_BYTES)


class Verdict(Enum):
    """What a LOGIN's ``auth`` field says, checked against the pile's secrets and the clock."""

    VALID = "valid"  # signed with the current secret, inside the window, not seen before
    VALID_PREVIOUS = "valid_previous"  # the same, with the previous secret in its grace period
    MISSING = "missing"  # all zeros: the pile does not sign
    BAD_MAC = "bad_mac"  # signed with none of the secrets (or no secret is known)
    REPLAYED = "replayed"  # a MAC already accepted inside the window
    CLOCK_SKEW = "clock_skew"  # a good MAC, but pile_time_ms is outside the window

    @property
    def accepted(self) -> bool:
        return self in (Verdict.VALID, Verdict.VALID_PREVIOUS)


def parse_secret(text: str) -> bytes:
    """A secret as the operator writes it: 64 hex digits (32 bytes)."""
    try:
        secret = bytes.fromhex(text.strip())
    except ValueError:
        raise ValueError("a pile secret is 64 hex digits") from None
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a pile secret is 64 hex digits (32 bytes), got {len(secret)} bytes")
    return secret


def mac_input(login: Login) -> bytes:
    """The bytes the MAC covers: the label, then LOGIN's body before ``auth``."""
    body = BODY_CODECS[MsgType.LOGIN].encode(replace(login, auth=NO_MAC))
    return LABEL + body[:MAC_INPUT_BODY_BYTES]


def login_mac(secret: bytes, login: Login) -> bytes:
    return hmac.new(secret, mac_input(login), hashlib.sha256).digest()


def sign_login(login: Login, secret: bytes) -> Login:
    """``login`` with its ``auth`` field set (what a pile's firmware does before sending)."""
    return replace(login, auth=login_mac(secret, login))


class ReplayGuard:
    """The MACs accepted recently, each kept until its login's time leaves the window.

    Memory is bounded by the logins accepted within one window (one entry per login)."""

    def __init__(self) -> None:
        self._until: dict[bytes, int] = {}
        self._expiry: list[tuple[int, bytes]] = []

    def __len__(self) -> int:
        return len(self._until)

    def forget_expired(self, now_ms: int) -> None:
        while self._expiry and self._expiry[0][0] < now_ms:
            until, mac = heapq.heappop(self._expiry)
            if self._until.get(mac) == until:
                del self._until[mac]

    def seen(self, mac: bytes, now_ms: int) -> bool:
        self.forget_expired(now_ms)
        return mac in self._until

    def remember(self, mac: bytes, until_ms: int) -> None:
        self._until[mac] = until_ms
        heapq.heappush(self._expiry, (until_ms, mac))


def verify_login(
    login: Login,
    secrets: Iterable[tuple[bytes, bool]],
    *,
    now_ms: int,
    window_ms: int,
    guard: ReplayGuard,
) -> Verdict:
    """Check ``login.auth``. ``secrets`` are (secret, is_previous) pairs to try in order: the
    current secret, then the previous one while its grace period lasts. An accepted MAC is
    remembered in ``guard`` until ``pile_time_ms + window_ms``, so an exact replay is refused
    for as long as the time check alone would let it through."""
    if login.auth == NO_MAC:
        return Verdict.MISSING
    signed = mac_input(login)
    matched: bool | None = None
    for secret, is_previous in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).digest()
        if hmac.compare_digest(expected, login.auth):
            matched = is_previous
            break
    if matched is None:
        return Verdict.BAD_MAC
    if abs(login.pile_time_ms - now_ms) > window_ms:
        return Verdict.CLOCK_SKEW
    if guard.seen(login.auth, now_ms):
        return Verdict.REPLAYED
    guard.remember(login.auth, login.pile_time_ms + window_ms)
    return Verdict.VALID_PREVIOUS if matched else Verdict.VALID
