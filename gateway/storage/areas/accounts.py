"""Accounts and the global one-account-one-active-service rule (claims across gateways)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select, update

from gateway.storage.areas.base import StorageArea
from gateway.storage.inserts import dialect_insert
from gateway.storage.records import AccountRecord
from gateway.storage.schema import accounts, active_services, sessions
from sessions import LIVE

log = logging.getLogger("pilegate.storage")

#: A claim younger than this is never judged stale: the row of the session it belongs to is
#: written through the batch writer, so it may lag the claim (a late charge re-claims the
#: account of an ended session before the session's row says so).
STALE_CLAIM_AGE_MS = 60_000
#: A claim whose session has no row at all is an orphan once this old: the gateway crashed
#: between the claim (a direct commit) and the session row (written through the batch
#: writer), so no process will ever release it. Judged only while this process's writer
#: holds no rows (its session rows are all in), so rows held through a database outage reach
#: the database first; with several instances, theirs drain within this bound after one.
ORPHAN_CLAIM_AGE_MS = 5 * 60_000


def stale_claims(now_ms: int, *, orphans: bool = True) -> Any:
    """Which account claims are stale, as a condition on `active_services`: the service is
    over in the database (not live, no late charge still running on it) and the claim is
    older than STALE_CLAIM_AGE_MS — its release was lost to an outage or a crash — or (with
    orphans) the claim's session never reached the database and the claim is older than
    ORPHAN_CLAIM_AGE_MS."""
    s, svc = sessions.c, active_services.c
    late_charge_open = and_(s.late_charge_start_ms.is_not(None), s.late_charge_end_ms.is_(None))
    over = select(s.id).where(s.state.not_in([p.value for p in LIVE]), ~late_charge_open)
    ended = and_(svc.since_ms < now_ms - STALE_CLAIM_AGE_MS, svc.session_id.in_(over))
    if not orphans:
        return ended
    orphan = and_(
        svc.since_ms < now_ms - ORPHAN_CLAIM_AGE_MS, ~exists().where(s.id == svc.session_id)
    )
    return or_(ended, orphan)


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or os.urandom(8).hex()
    digest = hashlib.sha256(f"{salt}:{password}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, salt, _ = stored.split("$", 2)
    return hmac.compare_digest(hash_password(password, salt), stored)


class AccountStorage(StorageArea):
    """What `Storage` keeps of accounts and their active-service claims."""

    async def add_account(
        self,
        account_id: str,
        *,
        balance_fen: int = 0,
        card_token: str | None = None,
        vin: str | None = None,
        password: str | None = None,
        enabled: bool = True,
        at_ms: int | None = None,
    ) -> AccountRecord:
        """Create an account (setup, demo, tests)."""
        if not isinstance(balance_fen, int):
            raise TypeError("balance_fen is integer fen")
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(accounts).values(
                    id=account_id,
                    card_token=card_token,
                    vin=vin,
                    password_hash=None if password is None else hash_password(password),
                    balance_fen=balance_fen,
                    enabled=enabled,
                    created_ms=self.clock() if at_ms is None else at_ms,
                )
            )
        return AccountRecord(
            account_id, balance_fen, enabled, card_token, vin, password is not None
        )

    async def find_account(
        self, channel: str, token: str, password: str | None = None
    ) -> AccountRecord | None:
        """The account a start presents: card -> by card token; vin -> by VIN; password ->
        account id `token` whose password matches; anything else (apps, operator) -> by
        account id. None when not found or the password is wrong. Disabled accounts are
        returned (enabled=False) so the caller can say why it refuses."""
        name = channel.lower()  # a channel name (gateway.dialect.CHANNELS)
        column = {"card": accounts.c.card_token, "vin": accounts.c.vin}.get(name, accounts.c.id)
        async with self.reader.connect() as conn:
            r = (await conn.execute(select(accounts).where(column == token))).mappings().first()
        if r is None:
            return None
        if name == "password" and (
            password is None or not check_password(password, r["password_hash"])
        ):
            return None
        return AccountRecord(
            r["id"], r["balance_fen"], bool(r["enabled"]), r["card_token"], r["vin"],
            r["password_hash"] is not None,
        )  # fmt: skip

    async def claim_account(
        self, account_id: str, session_id: str, pile_id: str, gun: int, at_ms: int
    ) -> str | None:
        """Claim the account's one active service for session_id, atomically across all
        gateway instances. None: claimed (or already held by this session, whose claim is
        then renewed). Otherwise the id of the session that holds it. A stale claim (see
        stale_claims) in the way is released first, so a lost release cannot lock an
        account for good."""
        row = {
            "account_id": account_id,
            "session_id": session_id,
            "pile_id": pile_id,
            "gun": gun,
            "since_ms": at_ms,
        }
        svc = active_services.c
        for _ in range(5):  # a holder may release between our insert and our look
            async with self.engine.begin() as conn:
                stmt = dialect_insert(conn, active_services).values(row)
                stmt = stmt.on_conflict_do_nothing(index_elements=["account_id"])
                result = await conn.execute(stmt.returning(svc.account_id))
                if result.first() is not None:
                    return None
                holder = (
                    await conn.execute(select(svc.session_id).where(svc.account_id == account_id))
                ).scalar()
                if holder == session_id:  # a re-claim (a late charge): fresh again
                    await conn.execute(
                        update(active_services)
                        .where(svc.account_id == account_id)
                        .values(since_ms=at_ms, pile_id=pile_id, gun=gun)
                    )
                    return None
                if holder is not None:
                    stale = await conn.execute(
                        delete(active_services).where(
                            svc.account_id == account_id,
                            stale_claims(at_ms, orphans=self.writer.stats.pending == 0),
                        )
                    )
                    if stale.rowcount == 0:
                        return str(holder)
                    log.warning(
                        "stale account claim released: account %s, session %s",
                        account_id,
                        holder,
                    )
        raise RuntimeError(f"could not claim account {account_id}: contention")

    async def release_stale_claims(self, now_ms: int) -> int:
        """Release every stale claim (stale_claims); how many were released."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(active_services).where(
                    stale_claims(now_ms, orphans=self.writer.stats.pending == 0)
                )
            )
        return int(result.rowcount or 0)

    async def release_account(self, account_id: str, session_id: str) -> bool:
        """Release the claim if session_id holds it. False if it did not."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(active_services).where(
                    active_services.c.account_id == account_id,
                    active_services.c.session_id == session_id,
                )
            )
            return result.rowcount > 0
