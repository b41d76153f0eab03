"""Session rows and their transitions (fire-and-forget through the writer), restart reads,
the overlap query of every bill."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select

from gateway.storage.areas.base import StorageArea
from gateway.storage.records import ENDED_EARLY_STATES, TERMINAL_STATES, SessionRow
from gateway.storage.schema import sessions
from gateway.storage.writer import Kind
from protocol.pile_ids import canonical_pile_id


class SessionStorage(StorageArea):
    """What `Storage` keeps of charging sessions."""

    def record_session(self, row: SessionRow) -> None:
        """Upsert the session's row (fire-and-forget, ordered with its transitions)."""
        self.writer.submit(Kind.SESSION, row.to_row())

    def record_transition(
        self, session_id: str, from_state: str | None, to_state: str, reason: str, at_ms: int
    ) -> None:
        """Append a state change (fire-and-forget, never dropped, in submission order)."""
        self.writer.submit(
            Kind.TRANSITION,
            {
                "session_id": session_id,
                "from_state": None if from_state is None else str(from_state),
                "to_state": str(to_state),
                "reason": str(reason)[:200],
                "at_ms": at_ms,
            },
        )

    async def open_sessions(self, pile_id: str | None = None) -> list[SessionRow]:
        """Sessions not settled, cancelled or failed (incl. closed ones awaiting their bill),
        for restart recovery. Reads committed rows: call flush() first in a live process."""
        pile_id = None if pile_id is None else canonical_pile_id(pile_id)
        q = select(sessions).where(sessions.c.state.not_in(TERMINAL_STATES))
        if pile_id is not None:
            q = q.where(sessions.c.pile_id == pile_id)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(q.order_by(sessions.c.updated_ms))).mappings().all()
        return self._restored(rows)

    def _restored(self, rows: Sequence[Mapping[Any, Any]]) -> list[SessionRow]:
        """Rows read back to be carried on: this process's next versions of them must be
        newer than the ones read (a restart with a wall clock behind the last process's)."""
        versions = self.writer.row_versions
        for r in rows:
            versions.observe(r["row_version"])
        return [SessionRow.from_row(r) for r in rows]

    async def sessions_to_restore(self, pile_id: str, ended_limit: int) -> list[SessionRow]:
        """What a restart puts back on a pile's guns: its open sessions, plus its newest
        `ended_limit` cancelled or failed ones (a late bill or a late start still matches
        them, field cases 1, 2 and 6)."""
        s = sessions
        ended = (
            select(s)
            .where(s.c.pile_id == pile_id, s.c.state.in_(ENDED_EARLY_STATES))
            .order_by(s.c.updated_ms.desc())
            .limit(ended_limit)
        )
        async with self.reader.connect() as conn:
            rows = self._restored((await conn.execute(ended)).mappings().all())
        return [*await self.open_sessions(pile_id), *rows]

    async def overlapping_sessions(
        self, account: str, session_id: str, start_ms: int, end_ms: int
    ) -> list[SessionRow]:
        """Other sessions of the account during which energy flowed at some time within
        [start_ms, end_ms): a charge the gateway saw, or one the pile drew after the gateway
        had ended the session (late_charge_*). Open-ended periods run until end_ms. Read from
        the database, so services on every gateway instance count (field case 2, code 7)."""
        s = sessions
        charge_end = func.coalesce(s.c.charge_end_ms, s.c.gateway_service_end_ms, end_ms)
        late_end = func.coalesce(s.c.late_charge_end_ms, end_ms)
        charged = and_(
            s.c.charge_start_ms.is_not(None), s.c.charge_start_ms < end_ms, charge_end > start_ms
        )
        charged_late = and_(
            s.c.late_charge_start_ms.is_not(None),
            s.c.late_charge_start_ms < end_ms,
            late_end > start_ms,
        )
        q = (
            select(s)
            .where(
                s.c.account == account,
                s.c.id != session_id,
                # the (account, authorised_ms) index: a service authorised after our end
                # cannot have charged within it
                s.c.authorised_ms < end_ms,
                or_(charged, charged_late),
            )
            .order_by(s.c.authorised_ms)
        )
        async with self.reader.connect() as conn:
            return [SessionRow.from_row(r) for r in (await conn.execute(q)).mappings()]
