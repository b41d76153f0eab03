"""Queries of the pile login secrets (table ``pile_secrets``, docs/configuration.md).

A secret is stored as the key itself, hex: verifying an HMAC means recomputing it. Rotation
keeps the secret it replaces as ``previous`` until ``previous_until_ms``, so a pile whose
firmware still has the old one can log in during the grace period.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.schema import pile_secrets, piles


@dataclass(frozen=True, slots=True)
class PileSecrets:
    """What the gateway knows to check a pile's LOGIN: None secret = none set."""

    pile_id: str
    secret: bytes | None = None
    set_at_ms: int | None = None
    previous: bytes | None = None
    previous_until_ms: int | None = None

    def usable(self, now_ms: int) -> list[tuple[bytes, bool]]:
        """(secret, is_previous) pairs a login may be signed with at ``now_ms``."""
        found: list[tuple[bytes, bool]] = []
        if self.secret is not None:
            found.append((self.secret, False))
        if self.previous is not None and (self.previous_until_ms or 0) > now_ms:
            found.append((self.previous, True))
        return found

    def status(self, now_ms: int) -> dict[str, object]:
        """What an operator may see: never the secret itself."""
        grace = self.previous is not None and (self.previous_until_ms or 0) > now_ms
        return {
            "pile_id": self.pile_id,
            "has_secret": self.secret is not None,
            "set_at_ms": self.set_at_ms,
            "previous_valid_until_ms": self.previous_until_ms if grace else None,
        }


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


async def load(engine: AsyncEngine, pile_id: str) -> PileSecrets | None:
    """The pile's secrets; None when the pile is not registered."""
    s = pile_secrets.c
    q = (
        select(piles.c.id, s.secret_hex, s.set_at_ms, s.previous_hex, s.previous_until_ms)
        .select_from(piles.outerjoin(pile_secrets, s.pile_id == piles.c.id))
        .where(piles.c.id == pile_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(q)).first()
    if row is None:
        return None
    return PileSecrets(row[0], _bytes(row[1]), row[2], _bytes(row[3]), row[4])


async def set_secret(
    engine: AsyncEngine, pile_id: str, secret: bytes, *, at_ms: int, grace_ms: int
) -> bool:
    """Set the pile's secret. With ``grace_ms`` > 0 the secret it replaces stays valid that
    long; with 0 it stops working at once. False when the pile is not registered."""
    async with engine.begin() as conn:
        if (await conn.execute(select(piles.c.id).where(piles.c.id == pile_id))).first() is None:
            return False
        old = (
            await conn.execute(
                select(pile_secrets.c.secret_hex).where(pile_secrets.c.pile_id == pile_id)
            )
        ).first()
        keep = old is not None and grace_ms > 0 and old[0] != secret.hex()
        values = {
            "secret_hex": secret.hex(),
            "set_at_ms": at_ms,
            "previous_hex": old[0] if keep and old is not None else None,
            "previous_until_ms": at_ms + grace_ms if keep else None,
        }
        if old is None:
            await conn.execute(insert(pile_secrets).values(pile_id=pile_id, **values))
        else:
            await conn.execute(
                update(pile_secrets).where(pile_secrets.c.pile_id == pile_id).values(**values)
            )
        return True


async def clear(engine: AsyncEngine, pile_id: str) -> bool:
    """Remove the pile's secrets (it can then only log in unsigned, if the policy allows)."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(pile_secrets).where(pile_secrets.c.pile_id == pile_id))
        return result.rowcount > 0
