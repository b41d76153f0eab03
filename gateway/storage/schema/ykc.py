"""What pilegate keeps about a YKC pile beyond `piles`: its protocol version, the CRC byte
order it sends, and the source addresses it may connect from (YKC has no authentication)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table

from gateway.storage.schema.types import _ms, metadata

ykc_piles = Table(
    "ykc_piles",
    metadata,
    Column("pile_id", String(32), ForeignKey("piles.id"), primary_key=True),
    Column("protocol_version", Integer(), nullable=True),  # login byte 9: 15, 16, 17
    Column("crc_order", String(16), nullable=True),  # "low_first" / "high_first" / "mixed"
    Column("peer", String(64), nullable=True),  # the address of its last login
    _ms("last_login_ms"),
    # Comma-separated IP addresses or networks (CIDR); empty or NULL: any address.
    Column("allowed_sources", String(1000), nullable=True),
)
