"""Charge point authentication: OCPP 1.6 security profiles 0, 1 and 2 (security whitepaper ed.2).

- Profile 0: no password; let in unless ``ocpp.require_password``.
- Profile 1: HTTP Basic Auth over plain ``ws://`` (trusted networks only; refused when
  ``ocpp.basic_auth_over_ws`` is false).
- Profile 2: HTTP Basic Auth over ``wss://`` (the gateway's TLS certificate); never over ws://.

The username is the charge point id exactly as in the URL; the password is its
AuthorizationKey. Only a salted scrypt hash of the password is stored (``hash_password``);
passwords are never logged. The check runs during the WebSocket handshake, before anything of
the connection is stored or a connected charger with the same id is touched: a charger that
fails it never replaces one that is connected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from gateway.config import OcppConfig
from gateway.storage.areas.ocpp import ChargerAuth

# scrypt cost: ~16 MiB and a few ms per check; a handshake is rare next to its heartbeats.
_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"
MIN_PASSWORD, MAX_PASSWORD = 16, 40  # bytes; the whitepaper asks 16..20, some tools send 40 hex


def hash_password(password: bytes) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password, salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"{_SCHEME}${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: bytes, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        ours = hashlib.scrypt(
            password, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(ours.hex(), digest)


def basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    """(username, password bytes) of an ``Authorization: Basic`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password


@dataclass(frozen=True, slots=True)
class Admission:
    """The handshake's verdict: let in (with the profile it proved) or refused (HTTP status)."""

    allowed: bool
    status: int = 200
    reason: str = ""
    profile: int = 0


def admit(
    charger_id: str,
    known: ChargerAuth,
    header: str | None,
    *,
    tls: bool,
    config: OcppConfig,
    auto_register: bool,
) -> Admission:
    """Decide on one handshake from the charger's stored profile and its Authorization header."""
    if not known.registered and not auto_register:
        return Admission(False, 404, "unknown charge point")
    creds = basic_credentials(header)
    if known.password_hash is None:
        if config.require_password:
            return Admission(False, 401, "no password set for this charge point")
        return Admission(True, profile=0)
    if known.security_profile >= 2 and not tls:
        return Admission(False, 403, "security profile 2 requires wss://")
    if not tls and not config.basic_auth_over_ws:
        return Admission(False, 403, "Basic Auth over plain ws:// is refused by configuration")
    if creds is None:
        return Admission(False, 401, "Basic Auth required")
    user, password = creds
    if user != charger_id or not check_password(password, known.password_hash):
        return Admission(False, 401, "wrong charge point id or password")
    return Admission(True, profile=2 if tls else 1)


def authorization_key_password(value: str) -> bytes:
    """The password an AuthorizationKey configuration value stands for: hex digits are the
    bytes (whitepaper), anything else its UTF-8 text."""
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()
