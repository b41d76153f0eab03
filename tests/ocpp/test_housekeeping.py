"""An OCPP charger is one of the gateway's connections like any other dialect's: storage
back-pressure holds its reading, and the gateway's sweep closes it once it has been silent for
three of the heartbeat intervals OCPP gave it (not v1's)."""

from __future__ import annotations

import asyncio

from ocpp.v16 import call

from gateway.adapters.ocpp16.charger import OcppCharger
from gateway.app import Gateway
from tests.ocpp.conftest import CP
from tests.ocpp.support import connected


async def test_a_charger_is_held_and_swept_like_any_connection(gateway: Gateway, port: int) -> None:
    async with connected(port, CP) as cp:
        await cp.boot()
        (charger,) = [c for c in gateway.connections if isinstance(c, OcppCharger)]

        gateway._storage_backlog(True)  # the database writer's backlog is at its bound
        heartbeat = asyncio.create_task(cp.call(call.Heartbeat()))
        await asyncio.sleep(0.3)
        assert not heartbeat.done()  # not read while held
        gateway._storage_backlog(False)
        assert (await asyncio.wait_for(heartbeat, 5)).current_time

        now = gateway.loop.time()
        gateway.close_silent(now + 3 * gateway.config.piles.heartbeat_interval_s + 1)
        assert not charger.closed  # v1's silence limit is not an OCPP charger's
        gateway.close_silent(now + 3 * gateway.config.ocpp.heartbeat_interval_s + 1)
        await asyncio.wait_for(cp._connection.wait_closed(), 5)
    for _ in range(500):  # bounded
        if charger not in gateway.connections and not gateway.piles[CP].online:
            break
        await asyncio.sleep(0.01)
    assert charger not in gateway.connections and not gateway.piles[CP].online
