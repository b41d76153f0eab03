"""Accounts and the global one-account-one-active-service rule (claims across gateways)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import Any

from sqlalchemy import and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.areas.base import StorageArea
from gateway.storage.inserts import dialect_insert
from gateway.storage.records import AccountRecord, SessionRow
from gateway.storage.schema import accounts, active_services, sessions
from gateway.storage.session_rows import upsert_sessions
from sessions import LIVE, Phase

log = logging.getLogger("pilegate.storage")

#: A claim younger than this is never judged stale: a release lost to a crash is repaired by
#: the sweep, but only once the claim has had time to be renewed (a late charge re-claims the
#: account of a session the database shows as ended).
STALE_CLAIM_AGE_MS = 60_000
#: A claim whose session has no row at all is an orphan once this old. A claim commits with
#: its session's row (claim_account), so only claims written before that was so (an older
#: gateway version, during an upgrade) can be orphans.
ORPHAN_CLAIM_AGE_MS = 5 * 60_000


def stale_claims(now_ms: int) -> Any:
    """Which account claims are stale, as a condition on `active_services`: the service is
    over in the database (not live, no late charge still running on it) and the claim is
    older than STALE_CLAIM_AGE_MS — its release was lost to an outage or a crash — or the
    claim's session has no row and the claim is older than ORPHAN_CLAIM_AGE_MS."""
    s, svc = sessions.c, active_services.c
    late_charge_open = and_(s.late_charge_start_ms.is_not(None), s.late_charge_end_ms.is_(None))
    over = select(s.id).where(s.state.not_in([p.value for p in LIVE]), ~late_charge_open)
    ended = and_(svc.since_ms < now_ms - STALE_CLAIM_AGE_MS, svc.session_id.in_(over))
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
        self,
        account_id: str,
        session_id: str,
        pile_id: str,
        gun: int,
        at_ms: int,
        *,
        opens: SessionRow | None = None,
    ) -> str | None:
        """Claim the account's one active service for session_id, atomically across all
        gateway instances. None: claimed (or already held by this session, whose claim is
        then renewed). Otherwise the id of the session that holds it. A stale claim (see
        stale_claims) in the way is released first, so a lost release cannot lock an
        account for good.

        A won claim commits with its session's row, so that no crash can leave a claim
        whose session the database does not know: the row of the session the claim
        `opens` (`SessionRow.authorised`) is inserted; and the newest rows the batch writer
        still holds for the gun's sessions (the one this claim follows, or the session a
        re-claim is for) are written in the same transaction."""
        claim = {
            "account_id": account_id,
            "session_id": session_id,
            "pile_id": pile_id,
            "gun": gun,
            "since_ms": at_ms,
        }
        opened = None if opens is None else opens.to_row()
        svc = active_services.c
        for _ in range(5):  # a holder may release between our insert and our look
            async with self.engine.begin() as conn:
                stmt = dialect_insert(conn, active_services).values(claim)
                stmt = stmt.on_conflict_do_nothing(index_elements=["account_id"])
                result = await conn.execute(stmt.returning(svc.account_id))
                if result.first() is not None:
                    await self._with_sessions(conn, pile_id, gun, opened)
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
                    await self._with_sessions(conn, pile_id, gun, opened)
                    return None
                if holder is not None:
                    stale = await conn.execute(
                        delete(active_services).where(
                            svc.account_id == account_id, stale_claims(at_ms)
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

    async def _with_sessions(
        self, conn: AsyncConnection, pile_id: str, gun: int, opened: dict[str, Any] | None
    ) -> None:
        """Write, in a claim's transaction, the gun's session rows the writer still holds
        and the row of the session the claim opens (new: no row of it can be newer), in one
        statement: the claim holds a pool connection for as few round trips as it can."""
        rows = self.writer.held_sessions.of_gun(pile_id, gun)
        if opened is not None:
            opened["row_version"] = self.writer.row_versions.next()
            rows = [*rows, opened]
        if rows:
            await upsert_sessions(conn, rows)

    async def release_stale_claims(self, now_ms: int) -> int:
        """Release every stale claim (stale_claims); how many were released."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(active_services).where(stale_claims(now_ms)))
        return int(result.rowcount or 0)

    async def release_account(
        self, account_id: str, session_id: str, *, opened: bool = True
    ) -> bool:
        """Release the claim if session_id holds it. False if it did not.

        The session's newest row the batch writer still holds is written in the same
        transaction: a released claim's session shows how it ended, whatever the writer
        loses. opened=False: the claim's session never opened (its authorisation was
        refused after the claim), so the row the claim wrote for it is removed too."""
        svc = active_services.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                delete(active_services).where(
                    svc.account_id == account_id, svc.session_id == session_id
                )
            )
            held = self.writer.held_sessions.of_session(session_id)
            if held is not None:
                await upsert_sessions(conn, [held])
            elif not opened:
                await conn.execute(
                    delete(sessions).where(
                        sessions.c.id == session_id,
                        sessions.c.state == Phase.AUTHORISED.value,
                    )
                )
            return result.rowcount > 0
