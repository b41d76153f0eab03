"""A small YKC platform on 127.0.0.1 for the simulator's YKC piles, driven by the sans-I/O
``protocol.ykc.YkcConnection``: it answers login, heartbeat, billing-model verify and request,
start requests and bills, records every frame (with its exact bytes), and sends commands."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

from protocol.ykc import messages as ykc
from protocol.ykc.codec import YkcFrame
from protocol.ykc.connection import FrameReceived, ReplyReceived, YkcConnection

#: The platform's billing model: sharp 1.3, peak 1.06, flat 0.7, valley 0.27 CNY/kWh plus
#: 0.8 service; valley 00:00-08:00, flat until 10:00, peak until 15:00, flat until 18:00, peak
#: until 19:00, sharp until 21:00, peak until 23:00, valley to midnight.
SLOTS = (3,) * 16 + (2,) * 4 + (1,) * 10 + (2,) * 6 + (1,) * 2 + (0,) * 4 + (1,) * 4 + (3,) * 2
MODEL = dict(
    model_id="0101", sharp_price_e5=130_000, sharp_service_e5=80_000, peak_price_e5=106_000,
    peak_service_e5=80_000, flat_price_e5=70_000, flat_service_e5=80_000,
    valley_price_e5=27_000, valley_service_e5=80_000, loss_ratio=0, slots=SLOTS,
)  # fmt: skip


class _Pile:
    def __init__(self, platform: FakePlatform, writer: asyncio.StreamWriter) -> None:
        self.platform = platform
        self.writer = writer
        self.conn = YkcConnection()
        self.replies: asyncio.Queue[ykc.Message] = asyncio.Queue()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def on_frame(self, frame: YkcFrame) -> None:
        p, msg = self.platform, frame.message
        p.frames.append(frame)
        p.changed.set()
        pile = self.conn.pile or ""
        if isinstance(msg, ykc.Login):
            p.piles[msg.pile] = self
            self.reply(frame, ykc.LoginReply(msg.pile, 0 if p.accept_login else 1))
        elif isinstance(msg, ykc.Heartbeat):
            self.reply(frame, ykc.HeartbeatReply(msg.pile, msg.gun, 0))
        elif isinstance(msg, ykc.ModelVerify):
            same = int(msg.model_id != MODEL["model_id"])
            self.reply(frame, ykc.ModelVerifyReply(msg.pile, msg.model_id, same))
        elif isinstance(msg, ykc.ModelRequest):
            self.reply(frame, ykc.ModelReply(pile, **MODEL))  # type: ignore[arg-type]
        elif isinstance(msg, ykc.StartRequest):
            trade = f"{msg.pile}{msg.gun}{next(p.trades):016d}"
            ok = p.authorise(msg)
            self.reply(
                frame,
                ykc.StartAuthorisation(trade, msg.pile, msg.gun, "1380000000000001", 50_000,
                                       int(ok), 0 if ok else 1),
            )  # fmt: skip
        elif isinstance(msg, ykc.Bill | ykc.BillV17) and p.confirm_bills:
            self.reply(frame, ykc.BillConfirm(msg.trade_no, 0))
        elif (
            isinstance(msg, ykc.Realtime)
            and p.stop_rogue_charges
            and msg.status == 3
            and msg.trade_no == "0" * 32
        ):  # charging with no order: stop it
            self.conn.send_command(ykc.RemoteStop(msg.pile, msg.gun), 0.0)
        self.flush()

    def reply(self, frame: YkcFrame, message: ykc.Message) -> None:
        self.platform.sent.append(message)
        self.conn.reply(frame, message)


class FakePlatform:
    """``async with FakePlatform() as pf:`` listens on ``pf.url`` (tcp://127.0.0.1:PORT)."""

    def __init__(self) -> None:
        self.frames: list[YkcFrame] = []  # from the piles
        self.sent: list[ykc.Message] = []  # the platform's answers
        self.replies: list[ReplyReceived] = []
        self.piles: dict[str, _Pile] = {}
        self.accept_login = True
        self.confirm_bills = True
        self.stop_rogue_charges = False
        self.authorise: Callable[[ykc.StartRequest], bool] = lambda msg: True
        self.trades = itertools.count(1)
        self.changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakePlatform:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for pile in self.piles.values():
            pile.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pile = _Pile(self, writer)
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(4096):
                pile.conn.receive_data(data)
                for event in pile.conn.events_received():
                    if isinstance(event, FrameReceived):
                        pile.on_frame(event.frame)
                    elif isinstance(event, ReplyReceived):
                        self.frames.append(event.frame)
                        self.replies.append(event)
                        self.changed.set()
        writer.close()

    # --- what a test asks and does -----------------------------------------------------------

    def of(self, cls: type[Any]) -> list[Any]:
        """The piles' frames of one type, or (for a platform frame type) our answers."""
        seen = [f.message for f in self.frames] + self.sent
        return [m for m in seen if isinstance(m, cls)]

    def raw(self, frame_type: int) -> list[bytes]:
        return [f.raw for f in self.frames if frame_type == f.message.TYPE]

    def command(self, pile: str, message: ykc.Message) -> int:
        """Send a platform command; its sequence number."""
        p = self.piles[pile]
        command = p.conn.send_command(message, asyncio.get_running_loop().time())
        p.flush()
        return -1 if command is None else command.seq

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            left = end - loop.time()
            if left <= 0:
                seen = [type(f.message).__name__ for f in self.frames]
                raise AssertionError(f"not seen in {timeout} s; seen: {seen}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.2))
