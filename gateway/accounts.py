"""One account, one active service (`Accounts` of gateway/ports.py).

Claims and releases are rows in the database (held across gateway instances); within this
process they run one after another per account, in the order they were asked for on the event
loop. So a claim the machine asks for when a pile reports charging (a re-claim, field case 2)
is in place before the claim of any authorisation that reaches that point later, and a release
queued before it cannot land after it and free the account again.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from gateway.background import Background
from gateway.storage import SessionRow, Storage
from sessions import AccountClaimed

T = TypeVar("T")


class AccountClaims:
    def __init__(self, storage: Storage, background: Background, log: Any) -> None:
        self.storage = storage
        self.background = background
        self.log = log
        self._ops: dict[str, asyncio.Task[Any]] = {}  # the last queued per account

    def _in_turn(self, account: str, op: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        before = self._ops.get(account)

        async def in_turn() -> T:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own caller's business
            return await op()

        task = self.background.spawn(in_turn())
        self._ops[account] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._ops.get(account) is done:
                del self._ops[account]

        task.add_done_callback(forget)
        return task

    def claim(
        self,
        account: str,
        session_id: str,
        pile_id: str,
        gun: int,
        now_ms: int,
        *,
        channel: str | None = None,
    ) -> asyncio.Task[str | None]:
        """Claim in turn; the session holding the account already, or None. With `channel`,
        the claim opens that session: its row commits with the claim (Storage.claim_account),
        so no crash can leave a claim without its session."""
        opens = None
        if channel is not None:
            opens = SessionRow.authorised(
                session_id, transaction_id=session_id, pile_id=pile_id, gun=gun,
                account=account, channel=channel, at_ms=now_ms,
            )  # fmt: skip
        claim = functools.partial(
            self.storage.claim_account, account, session_id, pile_id, gun, now_ms, opens=opens
        )
        return self._in_turn(account, claim)

    def claim_later(self, pile_id: str, gun: int, claim: AccountClaimed, now_ms: int) -> None:
        """Queue the claim at once (it is ordered now); nobody waits for its outcome."""
        # Energy is flowing on this account (a late charge): the claim must land, even
        # through an outage, so the account's next service is refused meanwhile.
        claim_op = functools.partial(
            self.storage.claim_account, claim.account, claim.session_id, pile_id, gun, now_ms
        )
        claiming = self._in_turn(
            claim.account,
            lambda: self.background.until_written(
                "account_claim", claim_op, account=claim.account, session=claim.session_id
            ),
        )

        def check(done: asyncio.Task[str | None]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            conflict = done.result()
            if conflict is not None and conflict != claim.session_id:
                self.log.warning(
                    "account_overlap",
                    pile=pile_id,
                    gun=gun,
                    account=claim.account,
                    session=claim.session_id,
                    other_session=conflict,
                )

        claiming.add_done_callback(check)

    def release(self, account: str, session_id: str, *, opened: bool = True) -> None:
        """Released once the database has it: a claim left behind would refuse the
        account's next service. opened=False: the claim's session never opened (refused
        after the claim); the row the claim wrote for it goes too."""
        release = functools.partial(
            self.storage.release_account, account, session_id, opened=opened
        )
        self._in_turn(
            account,
            lambda: self.background.until_written(
                "account_release", release, account=account, session=session_id
            ),
        )

    async def find(self, channel: str, token: str, password: str) -> Any:
        return await self.storage.find_account(channel, token, password)

    async def by_id(self, account_id: str) -> Any:
        return await self.storage.find_account("operator", account_id)
