"""Piles against a tiny fake gateway on 127.0.0.1 (tests/simulators/fake_gateway.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from pathlib import Path

import pytest

from protocol.pilegate.codes import BillAckStatus, MsgType, Result, StopReason
from protocol.pilegate.messages import (
    Bill,
    CommandAck,
    QueryBills,
    StartCharge,
    StartResult,
    StopCharge,
    StopResult,
)
from simulators import cli
from simulators.bill_store import BillStore
from simulators.charge import Car
from simulators.fleet import Fleet, FleetConfig
from simulators.load import LoadConfig, run_load
from tests.simulators.fake_gateway import FakeGateway, wait_for

MIN = 60_000


def _config(gw: FakeGateway, tmp: Path, **kw) -> FleetConfig:  # type: ignore[no-untyped-def]
    base = dict(gateway=gw.url, piles=3, guns=2, duration_s=None, time_scale=3_000.0,
                state_dir=tmp, mean_arrival_s=600, durable=False, backoff_base_s=0.05,
                backoff_max_s=0.2, ack_timeout_s=5.0)  # fmt: skip
    base.update(kw)
    return FleetConfig(**base)  # type: ignore[arg-type]


def _short_car() -> Car:
    return Car(600_000, 30.0, 100, "LTEST000000000009", 60_000, user_stop_after_ms=5 * MIN)


async def test_fleet_bills_arrive_are_acked_and_leave_the_store(tmp_path: Path) -> None:
    async with FakeGateway() as gw:
        fleet = Fleet(_config(gw, tmp_path, duration_s=2.0))
        summary = await fleet.run()
    d = summary.to_dict()
    assert d["logins"] == 3 and d["sessions_started"] > 0
    assert gw.bills and d["bills_acked"] >= 1
    acked = {b.transaction_id for _, b in gw.bills}
    for pile in fleet.piles:
        assert not acked & {b.transaction_id for b in BillStore(tmp_path, pile.pile_id).pending()}
    assert gw.seen[MsgType.HEARTBEAT] > 0 and gw.seen[MsgType.VIN] > 0
    assert d["missed_acks"] == 0 and d["ack_p99_ms"] > 0


async def test_reconnect_resends_the_pending_bill(tmp_path: Path) -> None:
    async with FakeGateway() as gw:
        gw.close_on_bill = 1  # the gateway drops the link instead of acking the first bill
        fleet = Fleet(_config(gw, tmp_path, piles=1, auto=False))
        await fleet.start()
        pile = fleet.pile(0)
        assert await wait_for(lambda: fleet.client(0).logged_in)
        pile.plug_in(1, fleet.now_ms(), car=_short_car())
        assert await wait_for(lambda: len(gw.bills) >= 2 and not pile.pending_bills(), 8)
        summary = await fleet.stop()
    (first, again) = [b for _, b in gw.bills[:2]]
    assert first == again
    assert gw.logins[pile.pile_id] >= 2
    assert summary.stats.bills_resent >= 1 and summary.stats.reconnects >= 1
    assert not (tmp_path / f"{pile.pile_id}.bills.json").exists()


async def test_simulator_restart_loses_no_bill(tmp_path: Path) -> None:
    async with FakeGateway() as gw:
        gw.bill_status = BillAckStatus.REJECTED
        fleet = Fleet(_config(gw, tmp_path, piles=1, auto=False))
        await fleet.start()
        assert await wait_for(lambda: fleet.client(0).logged_in)
        fleet.pile(0).plug_in(1, fleet.now_ms(), car=_short_car())
        assert await wait_for(lambda: len(gw.bills) >= 1, 8)
        await fleet.stop()
        (txid,) = {b.transaction_id for _, b in gw.bills}
        assert len(BillStore(tmp_path, fleet.pile(0).pile_id)) == 1  # kept on REJECTED
        gw.bill_status = BillAckStatus.ACCEPTED
        fleet2 = Fleet(_config(gw, tmp_path, piles=1, auto=False))  # a new process, same dir
        await fleet2.start()
        assert await wait_for(lambda: txid in gw.acked and not fleet2.pile(0).pending_bills())
        await fleet2.stop()
    assert len(BillStore(tmp_path, fleet.pile(0).pile_id)) == 0


async def test_remote_start_and_stop_and_query_bills(tmp_path: Path) -> None:
    async with FakeGateway(heartbeat_s=1) as gw:
        fleet = Fleet(_config(gw, tmp_path, piles=1, auto=False, time_scale=60.0))
        await fleet.start()
        pid = fleet.pile(0).pile_id
        assert await wait_for(lambda: fleet.client(0).logged_in)
        conn = gw.conn_of(pid)
        txid = "ab" * 16
        seq = conn.send(StartCharge(2, txid, "13800000000", 1, 5_000))
        assert await wait_for(lambda: gw.command_acks)
        ack_seq, ack = gw.command_acks[0]
        assert ack_seq == seq and ack == CommandAck(MsgType.START_CHARGE, 2, Result.OK)
        # The car handshake takes 3-8 s of pile time: 0.05-0.13 s at scale 60.
        assert await wait_for(lambda: any(isinstance(m, StartResult) for m in gw.frames[pid]))
        conn.send(StopCharge(2, txid, StopReason.REMOTE))
        assert await wait_for(lambda: any(isinstance(m, StopResult) for m in gw.frames[pid]))
        (stop,) = [m for m in gw.frames[pid] if isinstance(m, StopResult)]
        assert stop.stop_reason == StopReason.REMOTE and stop.transaction_id == txid
        gw.bill_status = BillAckStatus.REJECTED
        fleet.pile(0).store.add(Bill(**{**_bill_fields(txid)}))
        before = gw.seen[MsgType.BILL]
        conn.send(QueryBills(0))
        assert await wait_for(lambda: gw.seen[MsgType.BILL] > before)
        assert await wait_for(lambda: gw.seen[MsgType.HEARTBEAT] >= 1, 3)
        await fleet.stop()


def _bill_fields(txid: str) -> dict[str, object]:
    from dataclasses import asdict

    from protocol.pilegate.examples import EXAMPLES

    return {**asdict(EXAMPLES[MsgType.BILL][1]), "transaction_id": txid}


async def test_wire_faults_duplicate_garbage_and_drip(tmp_path: Path) -> None:
    async with FakeGateway() as gw:
        cfg = _config(gw, tmp_path, piles=1, auto=False, fault_params={"drip_interval_s": 0.001})
        fleet = Fleet(cfg)
        pile = fleet.pile(0)
        for name in ("duplicate_bill", "garbage_bytes", "slow_drip"):
            pile.force_fault(name, garbage_rate=1.0, drip_interval_s=0.0005)
        await fleet.start()
        assert await wait_for(lambda: fleet.client(0).logged_in, 5)
        pile.plug_in(1, fleet.now_ms(), car=_short_car())
        assert await wait_for(lambda: len(gw.bills) >= 2, 10)
        await fleet.stop()
    (a, b) = [bill for _, bill in gw.bills[:2]]
    assert a == b  # the acknowledged bill, sent once more
    assert gw.errors  # garbage and truncated frames were seen ...
    assert gw.seen[MsgType.STOP_RESULT] == 1  # ... and every real frame still arrived


async def test_websocket_transport(tmp_path: Path) -> None:
    from websockets.asyncio.server import serve

    async with FakeGateway() as gw:
        paths: list[str] = []

        async def handler(ws) -> None:  # type: ignore[no-untyped-def]
            from tests.simulators.fake_gateway import Conn

            paths.append(ws.request.path)
            assert ws.subprotocol == "pilegate.v1"
            conn = Conn(gw)
            sent: asyncio.Queue[bytes] = asyncio.Queue()

            class Shim:
                def write(self, data: bytes) -> None:
                    sent.put_nowait(data)

                def is_closing(self) -> bool:
                    return False

                def close(self) -> None:
                    pass

            conn.connection_made(Shim())  # type: ignore[arg-type]

            async def pump() -> None:
                while True:
                    await ws.send(await sent.get())

            task = asyncio.create_task(pump())
            try:
                async for message in ws:
                    conn.data_received(message)
            finally:
                task.cancel()

        async with serve(handler, "127.0.0.1", 0, subprotocols=["pilegate.v1"]) as server:
            port = server.sockets[0].getsockname()[1]
            cfg = _config(gw, tmp_path, piles=2, gateway=f"ws://127.0.0.1:{port}", duration_s=1.5)
            summary = await Fleet(cfg).run()
    assert sorted(paths) == [f"/pile/{p}" for p in sorted(gw.logins)]
    assert summary.stats.logins == 2 and gw.seen[MsgType.HEARTBEAT] > 0
    assert summary.stats.missed_acks == 0


async def test_load_lock_step_heartbeats() -> None:
    async with FakeGateway() as gw:
        s = await run_load(LoadConfig(gateway=gw.url, piles=50, heartbeat_interval_s=0,
                                      duration_s=1.0, connect_batch=10))  # fmt: skip
    d = s.to_dict()
    for key in ("piles_online", "missed_acks", "acks_per_s", "ack_p50_ms", "ack_p99_ms",
                "ack_max_ms", "connect_errors"):  # fmt: skip
        assert key in d
    assert d["piles_online"] == 50 and d["missed_acks"] == 0 and d["connect_errors"] == 0
    # No throughput floor: under CI with other processes on the cores a one-second run saw
    # 24 acks/s. What must hold on any machine: acks came, none was missed, and the latency
    # figures are ordered.
    assert s.acks > 0 and d["acks_per_s"] > 0
    assert 0 < d["ack_p50_ms"] <= d["ack_p99_ms"] <= d["ack_max_ms"]
    assert gw.seen[MsgType.HEARTBEAT] >= s.acks


async def test_load_counts_connect_errors() -> None:
    async with FakeGateway() as gw:
        port = gw.port
    s = await run_load(LoadConfig(gateway=f"tcp://127.0.0.1:{port}", piles=5, duration_s=0.2))
    assert s.connect_errors == 5 and s.piles_online == 0


@contextlib.contextmanager
def _gateway_thread():  # type: ignore[no-untyped-def]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def serve() -> None:
        async with FakeGateway() as gw:
            holder["gw"] = gw
            holder["stop"] = asyncio.Event()
            ready.set()
            await holder["stop"].wait()  # type: ignore[attr-defined]

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield holder["gw"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)  # type: ignore[attr-defined]
        thread.join(5)
        loop.close()


def test_cli_run_and_load_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _gateway_thread() as gw:
        rc = cli.main(["run", "--gateway", gw.url, "--piles", "2", "--duration", "1.0",
                       "--time-scale", "3000", "--state-dir", str(tmp_path), "--seed", "3",
                       "--firmware-mix", "V2.3.7:0.5,V2.1.0:0.5", "--fault", "transient_fault",
                       "--json"])  # fmt: skip
        assert rc == 0
        out = json.loads(capsys.readouterr().out)
        assert out["logins"] == 2 and out["piles_online"] == 0
        rc = cli.main(["load", "--gateway", gw.url, "--piles", "20", "--heartbeat-interval",
                       "0", "--duration", "0.5", "--json"])  # fmt: skip
        assert rc == 0
        out = json.loads(capsys.readouterr().out)
        assert out["piles_online"] == 20 and out["missed_acks"] == 0


def test_cli_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and "pilegate-sim" in capsys.readouterr().out
    assert cli.main([]) == 2
    with pytest.raises(SystemExit):
        cli.main(["run", "--help"])
    assert "--time-scale" in capsys.readouterr().out
