"""What a simulated pile needs to log in to a gateway that authenticates piles: its login
secret (docs/protocol.md §6.1.1) and, for tls:// or wss://, the CA that signed the gateway's
certificate.

Secrets files are what `pilegate piles add ... --secret generate --format csv` prints (a CSV
with `pile_id` and `secret` columns), or plain lines ``PILE_ID HEX``; ``#`` starts a comment.
"""

from __future__ import annotations

import csv
import io
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from protocol.pilegate import normalize_pile_id
from protocol.pilegate.login_auth import parse_secret


@dataclass(frozen=True, slots=True)
class Credentials:
    secrets: dict[str, bytes] = field(default_factory=dict)  # pile id (20 digits) -> secret
    default_secret: bytes | None = None  # for piles not in ``secrets``
    tls: ssl.SSLContext | None = None  # for tls:// and wss:// gateways

    def secret_for(self, pile_id: str) -> bytes | None:
        return self.secrets.get(normalize_pile_id(pile_id), self.default_secret)


def parse_secrets(text: str) -> dict[str, bytes]:
    """Pile id -> secret from a secrets file's text; raises ValueError naming the bad line."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if lines and "pile_id" in lines[0] and "secret" in lines[0]:
        rows = [(r["pile_id"], r["secret"]) for r in csv.DictReader(io.StringIO("\n".join(lines)))]
    else:
        rows = []
        for n, line in enumerate(lines, 1):
            parts = line.replace(",", " ").split()
            if len(parts) != 2:
                raise ValueError(f"secrets line {n}: expected PILE_ID SECRET, got {line!r}")
            rows.append((parts[0], parts[1]))
    found: dict[str, bytes] = {}
    for pile_id, secret in rows:
        if secret:  # a CSV row of a pile added without a generated secret has none
            found[normalize_pile_id(pile_id.strip())] = parse_secret(secret)
    return found


def client_tls(ca_file: str | None) -> ssl.SSLContext:
    """Verify the gateway's certificate against ``ca_file`` (default: the system's CAs)."""
    return ssl.create_default_context(cafile=ca_file)


def load_credentials(
    secret: str | None = None,
    secrets_file: str | None = None,
    ca_file: str | None = None,
    tls: bool = False,
) -> Credentials:
    return Credentials(
        secrets=parse_secrets(Path(secrets_file).read_text()) if secrets_file else {},
        default_secret=parse_secret(secret) if secret else None,
        tls=client_tls(ca_file) if tls or ca_file else None,
    )
