"""A scripted YKC pile for end-to-end tests over real TCP: it sends what a test says (built
with the codec, or raw bytes such as the public sample frames) and records every frame the
gateway sends back. It answers time sync and billing-model pushes itself; starts and stops
only when a test tells it to."""

from __future__ import annotations

import asyncio
import contextlib

from protocol.ykc import (
    CrcOrder,
    FrameType,
    Heartbeat,
    Login,
    Message,
    Realtime,
    SetModelReply,
    TimeSyncReply,
    YkcDecodeError,
    YkcFrame,
    YkcFrameDecoder,
    encode,
)

YKC_PILE = "32010600019236"
IDLE_TRADE = "0" * 32


class YkcPile:
    def __init__(
        self, pile: str = YKC_PILE, guns: int = 2, version: int = 16,
        crc_order: CrcOrder = CrcOrder.HIGH_FIRST,
    ) -> None:  # fmt: skip
        self.pile = pile
        self.guns = guns
        self.version = version
        self.crc_order = crc_order
        self.decoder = YkcFrameDecoder(version=None)
        self.received: list[YkcFrame] = []
        self.errors: list[YkcDecodeError] = []
        self._arrived = asyncio.Condition()
        self._reader_task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.seq = 0
        self.closed = asyncio.Event()
        self.answer_commands = True  # 0x56 and 0x58 answered at once, as a pile does

    async def connect(self, port: int) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self._reader_task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(65536):
                for item in self.decoder.feed(data):
                    if isinstance(item, YkcFrame):
                        await self._arrive(item)
                    else:
                        self.errors.append(item)
        except ConnectionError:
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def _arrive(self, frame: YkcFrame) -> None:
        m = frame.message
        if self.answer_commands and frame.frame_type == FrameType.TIME_SYNC:
            self.send(TimeSyncReply(self.pile, m.time), seq=frame.seq)  # type: ignore[attr-defined]
        if self.answer_commands and frame.frame_type == FrameType.SET_MODEL:
            self.send(SetModelReply(self.pile, 1), seq=frame.seq)
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
        self.send_raw(encode(message, seq, self.crc_order))
        return seq

    async def expect(
        self, frame_type: FrameType, *, seq: int | None = None, after: int = 0,
        timeout: float = 5.0,
    ) -> YkcFrame:  # fmt: skip
        """The first frame of this type (and seq) received at index >= after."""

        def find() -> YkcFrame | None:
            for frame in self.received[after:]:
                if frame.frame_type == frame_type and (seq is None or frame.seq == seq):
                    return frame
            return None

        async with asyncio.timeout(timeout):
            async with self._arrived:
                while (found := find()) is None:
                    if self.closed.is_set():
                        raise ConnectionError(f"closed before {frame_type.name} arrived")
                    await self._arrived.wait()
        return found

    def of_type(self, frame_type: FrameType) -> list[YkcFrame]:
        return [f for f in self.received if f.frame_type == frame_type]

    async def login(self, port: int | None = None) -> YkcFrame:
        if port is not None:
            await self.connect(port)
        seq = self.send(Login(self.pile, 0, self.guns, self.version, "V1.0.7", 0, "0" * 20, 0))
        return await self.expect(FrameType.LOGIN_REPLY, seq=seq)

    async def heartbeat(self, gun: str = "01") -> YkcFrame:
        seq = self.send(Heartbeat(self.pile, gun, 0))
        return await self.expect(FrameType.HEARTBEAT_REPLY, seq=seq)

    def realtime(
        self, gun: int, status: int, trade: str = IDLE_TRADE, *, plugged: int = 1,
        energy_dwh: int = 0,
    ) -> None:  # fmt: skip
        self.send(
            Realtime(
                trade, self.pile, f"{gun:02d}", status, 2, plugged, 3800 if status == 3 else 0,
                1000 if status == 3 else 0, 60, "0" * 16, 50, 60, 1, 30, energy_dwh, energy_dwh,
                0, 0,
            )
        )  # fmt: skip

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()
        if self._reader_task is not None:
            await asyncio.wait([self._reader_task], timeout=2)
