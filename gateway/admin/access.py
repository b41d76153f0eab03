"""Per-operator tokens with roles, beside the admin token.

The admin token (`admin.token`) can do everything. Operators listed in a TOML file named by
`PILEGATE_ADMIN_OPERATORS` get their own tokens, with a role:

    [[operator]]
    name = "ann"
    role = "operator"        # everything the admin token can do, audited under "ann"
    token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

    [[operator]]
    name = "bob"
    role = "read"            # GET only: every page, no action
    token = "plain-text-token-also-accepted"

An operator's request is checked here (read-only roles may only read) and then passed on as
an admin request, so the admin API's own check stays the single gate; the operator's name is
left in `request.state.operator` for the audit (bill corrections, resolved alarms). Only the
SHA-256 of a token needs to be stored. Operator tokens only mean something when admin.token
is set: without it the admin API is open to anyone who can reach it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from protocol.error_root import PilegateError

ROLES = ("read", "operator")
READ_METHODS = {"GET", "HEAD", "OPTIONS"}
ENV = "PILEGATE_ADMIN_OPERATORS"


class OperatorsFileError(PilegateError, ValueError):
    """The operators file cannot be used."""


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    role: str

    @property
    def read_only(self) -> bool:
        return self.role == "read"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_operators(text: str) -> dict[str, Operator]:
    """{sha256 of the token: operator} from the TOML text of an operators file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OperatorsFileError(f"not valid TOML: {exc}") from None
    out: dict[str, Operator] = {}
    for n, entry in enumerate(data.get("operator", []), start=1):
        name, role = str(entry.get("name", "")).strip(), entry.get("role", "read")
        if not name:
            raise OperatorsFileError(f"operator {n}: a name is required")
        if role not in ROLES:
            raise OperatorsFileError(f"operator {name}: role must be one of {', '.join(ROLES)}")
        if "token_sha256" in entry:
            key = str(entry["token_sha256"]).strip().lower()
        elif entry.get("token"):
            key = digest(str(entry["token"]))
        else:
            raise OperatorsFileError(f"operator {name}: give token_sha256 (or token)")
        if len(key) != 64 or key in out:
            raise OperatorsFileError(f"operator {name}: bad or repeated token")
        out[key] = Operator(name, role)
    return out


def load_operators(path: str | None = None) -> dict[str, Operator]:
    """The operators of the file at `path` (default $PILEGATE_ADMIN_OPERATORS); none if unset."""
    path = path if path is not None else os.environ.get(ENV, "")
    if not path:
        return {}
    try:
        return parse_operators(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise OperatorsFileError(f"cannot read {path}: {exc.strerror}") from None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for key, value in headers:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class OperatorAccess:
    """ASGI middleware (pure ASGI, so that the event stream is not buffered)."""

    def __init__(self, app: Any, admin_token: str, operators: dict[str, Operator]) -> None:
        self.app = app
        self.admin_token = admin_token
        self.operators = operators

    def find(self, token: str) -> Operator | None:
        key = digest(token)
        for known, op in self.operators.items():
            if hmac.compare_digest(known, key):
                return op
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.operators:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        op = None if token is None else self.find(token)
        if op is None:  # the admin token, a wrong one or none: the admin API decides
            await self.app(scope, receive, send)
            return
        if op.read_only and scope["method"] not in READ_METHODS:
            body = orjson.dumps({"detail": f"{op.name} has the read-only role"})
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())
            ]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
        if self.admin_token:
            headers.append((b"authorization", f"Bearer {self.admin_token}".encode()))
        state = dict(scope.get("state") or {})
        state["operator"] = op
        await self.app({**scope, "headers": headers, "state": state}, receive, send)


def operator_of(request: Any) -> Operator | None:
    """The operator a request came from (None: the admin token)."""
    return getattr(request.state, "operator", None)
