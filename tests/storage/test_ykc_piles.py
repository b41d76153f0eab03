"""What pilegate keeps about a YKC pile: login facts and the operator's source allow-list."""

from __future__ import annotations

from gateway.storage import Storage


async def test_login_facts_and_allow_list(storage: Storage) -> None:
    pile = "32010600019236"
    await storage.login_pile(pile, "ykc", "ykc-dc", "V1", 2, 1_000, auto_register=True)
    assert await storage.ykc_pile(pile) is None
    await storage.ykc_login(
        pile, protocol_version=16, crc_order="high_first", peer="tcp:127.0.0.1:5", at_ms=2_000
    )
    record = await storage.ykc_pile(pile)
    assert record is not None
    assert (record.protocol_version, record.crc_order, record.last_login_ms) == (
        16, "high_first", 2_000,
    )  # fmt: skip
    assert record.allowed_sources == ()
    await storage.set_ykc_allowed_sources(pile, ["10.0.0.0/8", " 192.168.1.5 "])
    await storage.ykc_login(
        pile, protocol_version=17, crc_order="low_first", peer="tcp:10.1.1.1:5", at_ms=3_000
    )
    record = (await storage.ykc_piles())[pile]
    assert record.allowed_sources == ("10.0.0.0/8", "192.168.1.5")
    assert (record.protocol_version, record.crc_order) == (17, "low_first")
    await storage.set_ykc_allowed_sources(pile, [])
    record = await storage.ykc_pile(pile)
    assert record is not None and record.allowed_sources == ()
