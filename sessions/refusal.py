"""The one rule for "may a new service start on this gun now?" and its typed reasons.

The machine applies it to every Authorised event; the gateway asks it first (before it claims
the account in the database) and adds what only it knows: whether the pile is enabled, whether
an operator command is already starting a service on the gun, the account's fate. The reason
travels unchanged to the pile (AUTH_RESULT, via the gateway's protocol mapping) and to the
operator (a rejected command's reason).
"""

from __future__ import annotations

from enum import StrEnum

from .states import GunState


class Refusal(StrEnum):
    """Why a new service cannot start. The value is what operators read."""

    PILE_DISABLED = "pile_disabled"
    GUN_DISABLED = "gun_disabled"
    PILE_OFFLINE = "pile_offline"
    GUN_FAULTED = "gun_faulted"
    GUN_BUSY = "gun_busy"  # a live session, or charging without one
    COMMAND_IN_PROGRESS = "command_in_progress"  # an operator start is under way on the gun
    UNKNOWN_GUN = "unknown_gun"
    # Decided by the gateway against its accounts (database), never by the machine:
    UNKNOWN_ACCOUNT = "unknown_account"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_BUSY = "account_busy"  # the account already holds an active service


def refusal(
    gun: GunState | None, *, pile_enabled: bool = True, command_in_progress: bool = False
) -> Refusal | None:
    """Why a new service cannot start on this gun now, or None. First match wins."""
    if not pile_enabled:
        return Refusal.PILE_DISABLED
    if gun is None:
        return Refusal.UNKNOWN_GUN
    if gun.disabled:
        return Refusal.GUN_DISABLED
    if gun.offline:
        return Refusal.PILE_OFFLINE
    if gun.faulted:
        return Refusal.GUN_FAULTED
    if gun.live_session is not None or gun.rogue is not None:
        return Refusal.GUN_BUSY
    if command_in_progress:
        return Refusal.COMMAND_IN_PROGRESS
    return None
