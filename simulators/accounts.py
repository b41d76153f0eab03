"""The simulated drivers' credentials: a fixed pool, so a gateway can be given the same
accounts (the demo and the scenarios register them) and cards are not refused as unknown."""

from __future__ import annotations

PASSWORD = "123456"
DEFAULT_POOL = 64


def card_token(index: int) -> str:
    """16-digit card number of driver ``index``: digits only, since YKC carries a card as 16
    BCD digits (a letter would be lost on the way), with no leading zero to be stripped."""
    return f"86{index:014d}"


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
