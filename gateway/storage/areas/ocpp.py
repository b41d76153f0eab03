"""OCPP 1.6J charge points' own rows (schema/ocpp.py): passwords, transactions, orphan stops,
configuration keys and reservations.

Every write here is a direct transaction, committed before the charge point is answered: a
transaction id handed out, a stop acknowledged or a reservation made is in the database first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, insert, or_, select, update

from gateway.storage.areas.base import StorageArea
from gateway.storage.inserts import dialect_insert
from gateway.storage.schema import (
    ocpp_chargers,
    ocpp_config_keys,
    ocpp_orphan_stops,
    ocpp_reservations,
    ocpp_transactions,
    piles,
)


@dataclass(frozen=True, slots=True)
class ChargerAuth:
    """What the handshake needs (is the charger registered, its profile, its password hash),
    and what its login then says of it, read in the same query."""

    registered: bool
    enabled: bool
    security_profile: int = 0
    password_hash: str | None = None
    gun_count: int = 0
    vendor: str = ""
    model: str = ""
    firmware: str = ""


@dataclass(frozen=True, slots=True)
class OcppTransaction:
    id: int
    pile_id: str
    connector_id: int
    id_tag: str
    start_ms: int
    meter_start_wh: int
    id_tag_status: str
    session_tx: str | None
    account: str | None
    reservation_id: int | None = None
    stop_ms: int | None = None
    meter_stop_wh: int | None = None
    stop_reason: str | None = None
    ended_by_gateway_ms: int | None = None
    billed_ms: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> OcppTransaction:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


class OcppStorage(StorageArea):
    # --- charge points and their passwords ------------------------------------------------

    async def charger_auth(self, pile_id: str) -> ChargerAuth:
        c = ocpp_chargers.c
        p = piles.c
        q = (
            select(
                p.enabled,
                c.security_profile,
                c.password_hash,
                p.gun_count,
                p.vendor,
                p.model,
                p.firmware,
            )
            .select_from(piles.outerjoin(ocpp_chargers, c.pile_id == p.id))
            .where(p.id == pile_id)
        )
        async with self.reader.connect() as conn:
            row = (await conn.execute(q)).first()
        if row is None:
            return ChargerAuth(False, False)
        return ChargerAuth(True, bool(row[0]), row[1] or 0, row[2], *row[3:])

    async def register_charger(
        self, pile_id: str, *, gun_count: int = 2, station_id: str | None = None, at_ms: int
    ) -> bool:
        """Register an OCPP charge point (its id is any string, not a v1 pile number);
        False when it already was."""
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, piles).values(
                id=pile_id, station_id=station_id, vendor="", model="", firmware="",
                gun_count=gun_count, enabled=True, registered_at_ms=at_ms, online=False,
            )  # fmt: skip
            result = await conn.execute(stmt.on_conflict_do_nothing())
            return bool(result.rowcount)

    async def set_charger_password(
        self, pile_id: str, password_hash: str | None, security_profile: int, *, at_ms: int
    ) -> bool:
        """Set (or with None clear) a charger's Basic Auth password; False if unregistered."""
        async with self.engine.begin() as conn:
            known = await conn.execute(select(piles.c.id).where(piles.c.id == pile_id))
            if known.first() is None:
                return False
            values = {
                "security_profile": security_profile,
                "password_hash": password_hash,
                "password_set_ms": at_ms,
            }
            stmt = dialect_insert(conn, ocpp_chargers).values(pile_id=pile_id, **values)
            await conn.execute(stmt.on_conflict_do_update(index_elements=["pile_id"], set_=values))
            return True

    # --- transactions ---------------------------------------------------------------------

    async def find_start(
        self, pile_id: str, connector_id: int, id_tag: str, start_ms: int, meter_start_wh: int
    ) -> OcppTransaction | None:
        """The transaction a retried StartTransaction already created, if any."""
        t = ocpp_transactions.c
        q = select(ocpp_transactions).where(
            t.pile_id == pile_id,
            t.connector_id == connector_id,
            t.id_tag == id_tag,
            t.start_ms == start_ms,
            t.meter_start_wh == meter_start_wh,
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).mappings().first()
        return None if row is None else OcppTransaction.from_row(row)

    async def start_transaction(self, tx: OcppTransaction, *, at_ms: int) -> OcppTransaction:
        """Insert the transaction and return it with its database id; a row with the same
        (charger, connector, idTag, timestamp, meterStart) already there is returned instead."""
        values = {k: v for k, v in _row(tx).items() if k != "id"}
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, ocpp_transactions).values(created_ms=at_ms, **values)
            await conn.execute(stmt.on_conflict_do_nothing())
            t = ocpp_transactions.c
            row = (
                (
                    await conn.execute(
                        select(ocpp_transactions).where(
                            t.pile_id == tx.pile_id,
                            t.connector_id == tx.connector_id,
                            t.id_tag == tx.id_tag,
                            t.start_ms == tx.start_ms,
                            t.meter_start_wh == tx.meter_start_wh,
                        )
                    )
                )
                .mappings()
                .one()
            )
        return OcppTransaction.from_row(row)

    async def ocpp_transaction(self, pile_id: str, transaction_id: int) -> OcppTransaction | None:
        t = ocpp_transactions.c
        q = select(ocpp_transactions).where(t.pile_id == pile_id, t.id == transaction_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(q)).mappings().first()
        return None if row is None else OcppTransaction.from_row(row)

    async def transactions_to_restore(self, pile_id: str) -> list[OcppTransaction]:
        """At a (re)connect, in one read: the charger's transactions with no StopTransaction
        yet (not ended by the gateway), and stopped ones of a session whose bill is not in
        yet (the gateway restarted between the stop and the bill); oldest first."""
        t = ocpp_transactions.c
        still_open = and_(t.stop_ms.is_(None), t.ended_by_gateway_ms.is_(None))
        unbilled = and_(t.stop_ms.is_not(None), t.billed_ms.is_(None), t.session_tx.is_not(None))
        q = (
            select(ocpp_transactions)
            .where(t.pile_id == pile_id, or_(still_open, unbilled))
            .order_by(t.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [OcppTransaction.from_row(r) for r in rows]

    async def stop_transaction(
        self,
        pile_id: str,
        transaction_id: int,
        *,
        stop_ms: int,
        meter_stop_wh: int,
        reason: str | None,
        at_ms: int,
    ) -> bool:
        """Record the stop; False when it was already recorded (a retried StopTransaction:
        answered again, counted once)."""
        t = ocpp_transactions.c
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(ocpp_transactions)
                .where(t.pile_id == pile_id, t.id == transaction_id, t.stop_ms.is_(None))
                .values(
                    stop_ms=stop_ms,
                    meter_stop_wh=meter_stop_wh,
                    stop_reason=reason,
                    stop_received_ms=at_ms,
                )
            )
            return bool(result.rowcount)

    async def mark_ended_by_gateway(self, pile_id: str, transaction_id: int, at_ms: int) -> None:
        t = ocpp_transactions.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(ocpp_transactions)
                .where(
                    t.pile_id == pile_id,
                    t.id == transaction_id,
                    t.ended_by_gateway_ms.is_(None),
                )
                .values(ended_by_gateway_ms=at_ms)
            )

    async def mark_billed(self, pile_id: str, transaction_id: int, at_ms: int) -> None:
        t = ocpp_transactions.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(ocpp_transactions)
                .where(t.pile_id == pile_id, t.id == transaction_id)
                .values(billed_ms=at_ms)
            )

    async def ocpp_transactions(
        self, pile_id: str | None = None, limit: int = 100
    ) -> list[OcppTransaction]:
        t = ocpp_transactions.c
        q = select(ocpp_transactions).order_by(t.id.desc()).limit(limit)
        if pile_id is not None:
            q = q.where(t.pile_id == pile_id)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [OcppTransaction.from_row(r) for r in rows]

    # --- orphan stops -----------------------------------------------------------------------

    async def orphan_stop(
        self,
        pile_id: str,
        transaction_id: int,
        *,
        id_tag: str | None,
        stop_ms: int,
        meter_stop_wh: int,
        reason: str | None,
        payload: dict[str, Any],
        at_ms: int,
    ) -> bool:
        """Keep a StopTransaction that matched no transaction; False if already kept."""
        async with self.engine.begin() as conn:
            stmt = dialect_insert(conn, ocpp_orphan_stops).values(
                pile_id=pile_id, transaction_id=transaction_id, id_tag=id_tag, stop_ms=stop_ms,
                meter_stop_wh=meter_stop_wh, reason=reason, received_ms=at_ms,
                payload=orjson.dumps(payload).decode(),
            )  # fmt: skip
            result = await conn.execute(stmt.on_conflict_do_nothing())
            return bool(result.rowcount)

    async def orphan_stops(self, pile_id: str | None = None) -> list[dict[str, Any]]:
        o = ocpp_orphan_stops.c
        q = select(ocpp_orphan_stops).order_by(o.id)
        if pile_id is not None:
            q = q.where(o.pile_id == pile_id)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [{**r, "payload": orjson.loads(r["payload"])} for r in rows]

    # --- configuration keys ---------------------------------------------------------------

    async def put_config_keys(
        self, pile_id: str, keys: list[tuple[str, str | None, bool]], *, at_ms: int
    ) -> None:
        """Keep what GetConfiguration returned: (key, value, readonly) each."""
        if not keys:
            return
        async with self.engine.begin() as conn:
            for key, value, readonly in keys:
                values = {"value": value, "readonly": readonly, "read_ms": at_ms}
                stmt = dialect_insert(conn, ocpp_config_keys).values(
                    pile_id=pile_id, key=key, **values
                )
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=["pile_id", "key"], set_=values)
                )

    async def set_config_value(self, pile_id: str, key: str, value: str, *, at_ms: int) -> None:
        """A ChangeConfiguration the charger accepted: its value is now ``value``."""
        c = ocpp_config_keys.c
        async with self.engine.begin() as conn:
            await conn.execute(
                update(ocpp_config_keys)
                .where(c.pile_id == pile_id, c.key == key)
                .values(value=value, read_ms=at_ms)
            )

    async def config_keys(self, pile_id: str) -> list[dict[str, Any]]:
        c = ocpp_config_keys.c
        q = select(ocpp_config_keys).where(c.pile_id == pile_id).order_by(c.key)
        async with self.reader.connect() as conn:
            rows = (await conn.execute(q)).mappings().all()
        return [{"key": r["key"], "value": r["value"], "readonly": r["readonly"],
                 "read_ms": r["read_ms"]} for r in rows]  # fmt: skip

    # --- reservations ---------------------------------------------------------------------

    async def new_reservation(
        self,
        pile_id: str,
        connector_id: int,
        id_tag: str,
        parent_id_tag: str | None,
        expiry_ms: int,
        *,
        at_ms: int,
    ) -> int:
        """A reservation id from the database, before ReserveNow goes out (status
        'requested' until the charger answers)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                insert(ocpp_reservations)
                .values(
                    pile_id=pile_id,
                    connector_id=connector_id,
                    id_tag=id_tag,
                    parent_id_tag=parent_id_tag,
                    expiry_ms=expiry_ms,
                    status="requested",
                    created_ms=at_ms,
                )
                .returning(ocpp_reservations.c.id)
            )
            return int(result.scalar_one())

    async def set_reservation(
        self, pile_id: str, reservation_id: int, status: str, transaction_id: int | None = None
    ) -> None:
        """Its new status; a reservation the charger refused is deleted (nothing is kept)."""
        r = ocpp_reservations.c
        where = and_(r.pile_id == pile_id, r.id == reservation_id)
        async with self.engine.begin() as conn:
            if status == "refused":
                await conn.execute(delete(ocpp_reservations).where(where))
                return
            values: dict[str, Any] = {"status": status}
            if transaction_id is not None:
                values["transaction_id"] = transaction_id
            await conn.execute(update(ocpp_reservations).where(where).values(**values))

    async def reservations(self, pile_id: str) -> list[dict[str, Any]]:
        r = ocpp_reservations.c
        q = select(ocpp_reservations).where(r.pile_id == pile_id).order_by(r.id)
        async with self.reader.connect() as conn:
            return [dict(x) for x in (await conn.execute(q)).mappings().all()]

    async def count_ocpp_transactions(self, pile_id: str) -> int:
        t = ocpp_transactions.c
        q = select(func.count()).select_from(ocpp_transactions).where(t.pile_id == pile_id)
        async with self.reader.connect() as conn:
            return int((await conn.execute(q)).scalar_one())


def _row(tx: OcppTransaction) -> dict[str, Any]:
    return {k: getattr(tx, k) for k in OcppTransaction.__dataclass_fields__}
