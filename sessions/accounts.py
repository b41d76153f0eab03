"""A pure view of account holds, built from AccountClaimed/AccountReleased actions.

The gateway's real registry is in its database; this helper lets it (and tests) check the
one-account-one-active-service rule across guns without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .actions import AccountClaimed, AccountReleased, Action


@dataclass(frozen=True, slots=True)
class AccountBook:
    """account -> sessions holding it. More than one holder is an overlap (case 2)."""

    holds: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))

    def holders(self, account: str) -> frozenset[str]:
        return self.holds.get(account, frozenset())

    def is_free(self, account: str) -> bool:
        return not self.holders(account)

    def apply(self, actions: Iterable[Action]) -> AccountBook:
        """A new book with the claims and releases among actions applied in order."""
        holds = dict(self.holds)
        for a in actions:
            if isinstance(a, AccountClaimed):
                holds[a.account] = holds.get(a.account, frozenset()) | {a.session_id}
            elif isinstance(a, AccountReleased):
                left = holds.get(a.account, frozenset()) - {a.session_id}
                if left:
                    holds[a.account] = left
                else:
                    holds.pop(a.account, None)
        return AccountBook(MappingProxyType(holds))

    def overlaps(self) -> dict[str, frozenset[str]]:
        """Accounts held by several sessions at once: flag them for billing and operators."""
        return {acc: sids for acc, sids in self.holds.items() if len(sids) > 1}
