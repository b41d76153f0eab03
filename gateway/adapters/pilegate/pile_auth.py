"""The gateway's side of pile authentication: policy, secrets from storage, the replay guard.

``protocol.pilegate.login_auth`` checks a MAC; this module decides what a verdict means under the
configured policy (``piles.auth``: required, optional, off) and says whether a LOGIN may go on
to the login proper. It runs before anything of the login is stored or any live connection is
touched, so a refused login changes nothing (docs/protocol.md §6.1.1).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.config import PilesConfig
from gateway.dialect import LoginRefusal, LoginRefused
from gateway.storage import PileSecrets
from protocol.pilegate import Login
from protocol.pilegate.login_auth import NO_MAC, ReplayGuard, Verdict, verify_login
from protocol.pilegate.login_auth import parse_secret as parse_secret  # the secrets' text form


def generate_secret() -> bytes:
    return secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class LoginAllowed:
    authenticated: bool  # the LOGIN carried a good MAC
    verdict: Verdict | None  # None with policy off


class SecretSource(Protocol):
    async def pile_secrets(self, pile_id: str) -> PileSecrets | None: ...


class PileAuthenticator:
    def __init__(
        self, config: PilesConfig, source: SecretSource, clock: Callable[[], int], log: Any
    ) -> None:
        self.policy = config.auth
        self.auto_register = config.auto_register
        self.window_ms = int(config.auth_window_s * 1000)
        self.source = source
        self.clock = clock
        self.log = log
        self.guard = ReplayGuard()
        self.verdicts: Counter[str] = Counter()  # for the operator: how piles log in

    async def check(self, login: Login) -> LoginAllowed | LoginRefused:
        if self.policy == "off":
            return LoginAllowed(False, None)
        if self.policy == "optional" and login.auth == NO_MAC:
            # Let in and flagged whatever the pile's secrets: no need to read them, which
            # keeps a reconnect storm of unsigned piles as cheap as with the policy off.
            self.verdicts[Verdict.MISSING.value] += 1
            self.log.warning("login_unauthenticated", pile=login.pile_id, signed=False)
            return LoginAllowed(False, Verdict.MISSING)
        known = await self.source.pile_secrets(login.pile_id)
        if known is None and not self.auto_register:
            return LoginRefused(LoginRefusal.UNKNOWN_PILE, "unknown pile")
        now = self.clock()
        usable = known.usable(now) if known is not None else []
        verdict = verify_login(
            login, usable, now_ms=now, window_ms=self.window_ms, guard=self.guard
        )
        self.verdicts[verdict.value] += 1
        has_secret = bool(usable)
        if verdict.accepted:
            if verdict is Verdict.VALID_PREVIOUS:
                self.log.warning("login_previous_secret", pile=login.pile_id)
            return LoginAllowed(True, verdict)
        if verdict is Verdict.CLOCK_SKEW:
            skew = login.pile_time_ms - now
            return LoginRefused(LoginRefusal.CLOCK_SKEW, f"pile clock off by {skew} ms")
        if verdict is Verdict.REPLAYED:
            return LoginRefused(LoginRefusal.AUTH_FAILED, "replayed login MAC")
        if self.policy == "required":
            why = "login not signed" if verdict is Verdict.MISSING else "login MAC wrong"
            return LoginRefused(
                LoginRefusal.AUTH_FAILED, why if has_secret else f"{why}, no secret"
            )
        # optional, signed: a wrong MAC where the pile has a secret is refused; a MAC we
        # cannot check (no secret set here yet) is let in, flagged.
        if has_secret:
            return LoginRefused(LoginRefusal.AUTH_FAILED, "login MAC wrong")
        self.log.warning("login_unauthenticated", pile=login.pile_id, signed=True)
        return LoginAllowed(False, verdict)
