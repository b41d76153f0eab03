"""A tiny gateway for the simulator's tests: an asyncio TCP server on 127.0.0.1 that answers
LOGIN, HEARTBEAT, AUTH_REQUEST, BILL and the ACKed events, and records what it saw."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict

from protocol.pilegate import FrameDecoder, encode
from protocol.pilegate.codes import ACKED_EVENTS, BillAckStatus, MsgType, Result
from protocol.pilegate.errors import DecodeError
from protocol.pilegate.messages import (
    Ack,
    AuthResult,
    Bill,
    BillAck,
    CommandAck,
    HeartbeatAck,
    Login,
    LoginAck,
    Message,
)


class Conn(asyncio.Protocol):
    def __init__(self, gw: FakeGateway) -> None:
        self.gw = gw
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.pile_id = ""
        self.seq = itertools.count(1)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.gw.conns.append(self)
        self.gw.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self in self.gw.conns:
            self.gw.conns.remove(self)

    def send(self, msg: Message, seq: int | None = None) -> int:
        seq = next(self.seq) if seq is None else seq
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode(msg, seq))
        return seq

    def data_received(self, data: bytes) -> None:
        for item in self.decoder.feed(data):
            if isinstance(item, DecodeError):
                self.gw.errors[item.kind] += 1
                continue
            msg = item.message
            self.gw.seen[msg.TYPE] += 1
            self.gw.frames[self.pile_id].append(msg)
            if isinstance(msg, Login):
                self.pile_id = msg.pile_id
                self.gw.logins[msg.pile_id] += 1
                self.send(LoginAck(Result.OK, msg.pile_time_ms, self.gw.heartbeat_s), item.seq)
            elif msg.TYPE == MsgType.HEARTBEAT:
                self.send(HeartbeatAck(), item.seq)
            elif msg.TYPE == MsgType.AUTH_REQUEST:
                txid = f"{next(self.gw.txids):032x}"
                self.send(AuthResult(msg.gun, Result.OK, txid, "13800000000", 10_000), item.seq)
            elif isinstance(msg, Bill):
                self.gw.bills.append((self.pile_id, msg))
                if self.gw.close_on_bill > 0:
                    self.gw.close_on_bill -= 1
                    assert self.transport is not None
                    self.transport.close()
                    return
                status = self.gw.bill_status
                if msg.transaction_id in self.gw.acked:
                    status = BillAckStatus.DUPLICATE
                if status != BillAckStatus.REJECTED:
                    self.gw.acked.add(msg.transaction_id)
                self.send(BillAck(msg.transaction_id, status, 0), item.seq)
            elif msg.TYPE in ACKED_EVENTS:
                self.send(Ack(msg.TYPE, Result.OK), item.seq)
            elif isinstance(msg, CommandAck):
                self.gw.command_acks.append((item.seq, msg))


class FakeGateway:
    def __init__(self, heartbeat_s: int = 1) -> None:
        self.heartbeat_s = heartbeat_s
        self.bill_status = BillAckStatus.ACCEPTED
        self.close_on_bill = 0  # close the connection instead of acking the next N bills
        self.conns: list[Conn] = []
        self.connections = 0
        self.logins: Counter[str] = Counter()
        self.seen: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.frames: defaultdict[str, list[Message]] = defaultdict(list)
        self.bills: list[tuple[str, Bill]] = []
        self.acked: set[str] = set()
        self.command_acks: list[tuple[int, CommandAck]] = []
        self.txids = itertools.count(0x1000)
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> FakeGateway:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Conn(self), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.wait_for(self.server.wait_closed(), 5)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def conn_of(self, pile_id: str) -> Conn:
        return next(c for c in self.conns if c.pile_id == pile_id)

    def drop_all(self) -> None:
        for conn in list(self.conns):
            if conn.transport is not None:
                conn.transport.close()


async def wait_for(predicate, timeout: float = 5.0, step: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll predicate() until true or timeout (bounded)."""
    for _ in range(int(timeout / step) + 1):
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())
