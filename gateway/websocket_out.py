"""Sending what a server-side sans-I/O WebSocket (websockets' ServerProtocol) has queued: one
rule for every WebSocket listener (v1 piles, OCPP chargers)."""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.server import ServerProtocol

CLOSE_TIMEOUT_S = 5.0  # after our close frame, how long the peer has to answer before we drop it


def flush(
    ws: ServerProtocol,
    transport: Any,  # uvloop's transports are not asyncio.Transport subclasses
    loop: asyncio.AbstractEventLoop,
    close_timer: asyncio.TimerHandle | None,
) -> asyncio.TimerHandle | None:
    """Write everything queued; an empty chunk is the end of the stream (close the transport).
    Returns the close timer: armed once our close frame is out, so a silent peer is dropped."""
    for data in ws.data_to_send():
        if data:
            transport.write(data)
        else:
            transport.close()
            return close_timer
    if ws.close_expected() and close_timer is None:
        return loop.call_later(CLOSE_TIMEOUT_S, transport.close)
    return close_timer
