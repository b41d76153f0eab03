"""The simulated drivers' credentials: a fixed pool, so a gateway can be given the same
accounts (the demo and the scenarios register them) and cards are not refused as unknown."""

from __future__ import annotations

PASSWORD = "123456"
DEFAULT_POOL = 64


def card_token(index: int) -> str:
    """16-character card number of driver ``index``."""
    return f"SIMC{index:012d}"


def card_account(index: int) -> str:
    return f"1380000{index:04d}"


def password_account(index: int) -> str:
    """Account id typed at the pile (with PASSWORD) by driver ``index``."""
    return f"1390000{index:04d}"


def pool(size: int = DEFAULT_POOL) -> list[tuple[str, str, str]]:
    """(account id, card token or "", password or "") for every simulated driver."""
    cards = [(card_account(i), card_token(i), "") for i in range(size)]
    passwords = [(password_account(i), "", PASSWORD) for i in range(size)]
    return cards + passwords
