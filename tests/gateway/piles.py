"""A scripted pile for end-to-end tests: it sends exactly what a test says and records every
frame the gateway sends back, so tests can assert on the exact frames."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from protocol.pilegate import (
    CommandAck,
    DecodeError,
    Frame,
    FrameDecoder,
    GunReport,
    GunStatus,
    Heartbeat,
    Login,
    Message,
    MsgType,
    Result,
    encode,
)
from protocol.pilegate.codes import COMMANDS

PILE_ID = "44030600030000200060"


class ScriptedPile:
    def __init__(self, pile_id: str = PILE_ID, guns: int = 2, firmware: str = "V2.3.7") -> None:
        self.pile_id = pile_id
        self.gun_count = guns
        self.firmware = firmware
        self.decoder = FrameDecoder()
        self.received: list[Frame] = []
        self.errors: list[DecodeError] = []
        self._arrived = asyncio.Condition()
        self._reader_task: asyncio.Task[None] | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.seq = 0
        self.closed = asyncio.Event()
        # Answer gateway commands automatically (COMMAND_ACK OK) unless a test says otherwise.
        self.auto_ack: Callable[[Frame], int | None] | None = lambda frame: Result.OK
        self.meter = {g: 1_000_000 for g in range(1, guns + 1)}
        self.status = {g: GunStatus.AVAILABLE for g in range(1, guns + 1)}

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self._reader_task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.reader is not None
        try:
            while data := await self.reader.read(65536):
                for item in self.decoder.feed(data):
                    if isinstance(item, DecodeError):
                        self.errors.append(item)
                        continue
                    await self._arrive(item)
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def _arrive(self, frame: Frame) -> None:
        if self.auto_ack is not None and frame.message.TYPE in COMMANDS:
            gun = getattr(frame.message, "gun", 0)
            result = self.auto_ack(frame)
            if result is not None:
                self.send_raw(encode(CommandAck(frame.message.TYPE, gun, result), frame.seq))
        async with self._arrived:
            self.received.append(frame)
            self._arrived.notify_all()

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    def send(self, message: Message, seq: int | None = None) -> int:
        if seq is None:
            self.seq = (self.seq + 1) & 0xFFFF
            seq = self.seq
        self.send_raw(encode(message, seq))
        return seq

    async def expect(
        self, msg_type: MsgType, *, seq: int | None = None, timeout: float = 5.0, after: int = 0
    ) -> Frame:
        """The first frame of this type (and seq) received at index >= after."""

        def find() -> Frame | None:
            for frame in self.received[after:]:
                if msg_type == frame.message.TYPE and (seq is None or frame.seq == seq):
                    return frame
            return None

        async with asyncio.timeout(timeout):
            async with self._arrived:
                while (found := find()) is None:
                    if self.closed.is_set():
                        raise ConnectionError(f"closed before {msg_type.name} arrived")
                    await self._arrived.wait()
        return found

    def of_type(self, msg_type: MsgType) -> list[Frame]:
        return [f for f in self.received if msg_type == f.message.TYPE]

    async def login(self, port: int | None = None) -> Frame:
        if port is not None:
            await self.connect(port)
        seq = self.send(
            Login(
                self.pile_id, "ACME", "DC120", self.firmware, 1, self.gun_count, 1_700_000_000_000
            )
        )
        ack = await self.expect(MsgType.LOGIN_ACK, seq=seq)
        if ack.message.result == Result.OK and self.auto_ack is not None:
            # Logged in = configured: the gateway's login sequence ends with SET_IDLE_FEE.
            await self.expect(MsgType.SET_IDLE_FEE, after=self.received.index(ack))
        return ack

    async def heartbeat(self, power_w: int = 0) -> Frame:
        guns = tuple(
            GunReport(g, self.status[g], 0, self.meter[g], 3800, 0, power_w, 50)
            for g in range(1, self.gun_count + 1)
        )
        seq = self.send(Heartbeat(guns))
        return await self.expect(MsgType.HEARTBEAT_ACK, seq=seq)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        if self._reader_task is not None:
            await asyncio.wait([self._reader_task], timeout=2)
