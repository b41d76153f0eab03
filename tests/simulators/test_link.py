"""The pile's byte writer: slow drip and the wire faults must not reorder bytes."""

from __future__ import annotations

import asyncio

from protocol.pilegate import FrameDecoder, encode
from protocol.pilegate.codes import MsgType
from protocol.pilegate.errors import DecodeError
from protocol.pilegate.examples import EXAMPLES
from simulators.client import _Link


class _RecordingLink(_Link):
    def __init__(self) -> None:
        super().__init__(client=None)  # type: ignore[arg-type]
        self.wire = bytearray()

    def _write(self, data: bytes) -> None:
        self.wire += data


async def _until(predicate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(10_000):  # bounded: loop iterations, not wall time
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


async def test_an_undripped_write_waits_for_the_frame_being_dripped() -> None:
    """A heartbeat's garbage written while a BILL drips must not land inside the bill."""
    link = _RecordingLink()
    bill = encode(EXAMPLES[MsgType.BILL][1], 14)
    link.send(bill, drip_s=1e-6)
    await _until(lambda: 0 < len(link.wire) < len(bill) // 2)  # the dripper popped the bill
    junk = b"\x01\x02\x03\x04"
    link.send(junk)  # garbage before the next frame: not dripped
    heartbeat = encode(EXAMPLES[MsgType.HEARTBEAT][1], 15)
    link.send(heartbeat, drip_s=1e-6)
    await _until(lambda: len(link.wire) >= len(bill) + len(junk) + len(heartbeat))
    assert bytes(link.wire) == bill + junk + heartbeat
    frames = [i for i in FrameDecoder().feed(bytes(link.wire)) if not isinstance(i, DecodeError)]
    assert [f.msg_type for f in frames] == [MsgType.BILL, MsgType.HEARTBEAT]


async def test_writes_with_no_drip_pending_go_out_at_once() -> None:
    link = _RecordingLink()
    link.send(b"abc")
    assert bytes(link.wire) == b"abc"
