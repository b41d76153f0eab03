"""YkcConnection: login gate, sequence echo and allocation, reply matching and deadlines on a
fake clock (plain numbers passed in as ``now``)."""

from __future__ import annotations

import pytest

from protocol.ykc import Cp56Time, CrcOrder, encode
from protocol.ykc.connection import (
    CommandTimedOut,
    DecodeFailed,
    FrameBeforeLogin,
    FrameReceived,
    ReplyReceived,
    UnexpectedFrame,
    YkcConnection,
    YkcUsageError,
)
from protocol.ykc.messages import (
    Heartbeat,
    HeartbeatReply,
    LoginReply,
    ModelVerifyReply,
    ReadRealtime,
    Reboot,
    RebootReply,
    RemoteStart,
    RemoteStartResult,
    RemoteStop,
    RemoteStopResult,
    TimeSync,
    TimeSyncReply,
)
from tests.protocol.ykc.samples import PILE, SAMPLES

TRADE = "20231212000010010000000000000001"


def logged_in(now: float = 0.0) -> YkcConnection:
    connection = YkcConnection()
    connection.receive_data(SAMPLES["login"])
    (event,) = connection.events_received()
    assert isinstance(event, FrameReceived)
    connection.reply(event.frame, LoginReply(PILE, 0))
    connection.data_to_send()
    return connection


def pile_says(connection: YkcConnection, message, seq: int, order=CrcOrder.LOW_FIRST):  # type: ignore[no-untyped-def]
    connection.receive_data(encode(message, seq, order))
    return connection.events_received()


def test_login_reply_echoes_the_login_seq_byte_for_byte() -> None:
    connection = YkcConnection()
    connection.receive_data(SAMPLES["login"])
    (event,) = connection.events_received()
    assert isinstance(event, FrameReceived)
    assert connection.version == 16 and connection.pile == PILE
    connection.reply(event.frame, LoginReply(PILE, 0))
    assert connection.data_to_send() == SAMPLES["login_reply"]
    assert connection.logged_in


def test_heartbeat_reply_echoes_seq_and_the_crc_order_is_recorded() -> None:
    connection = logged_in()
    connection.receive_data(SAMPLES["heartbeat"])
    (event,) = connection.events_received()
    assert isinstance(event, FrameReceived)
    assert connection.crc_order is CrcOrder.HIGH_FIRST
    assert connection.crc_orders_seen == {CrcOrder.LOW_FIRST: 1, CrcOrder.HIGH_FIRST: 1}
    connection.reply(event.frame, HeartbeatReply(PILE, "01"))
    sample = SAMPLES["heartbeat_reply"]  # its length byte is wrong (0x09): ours says 0x0D
    assert connection.data_to_send() == sample[:1] + b"\x0d" + sample[2:]


def test_model_verify_reply_echoes_the_request_bytes_not_jcpps_swapped_ones() -> None:
    connection = logged_in()
    connection.receive_data(SAMPLES["model_verify"])
    (event,) = connection.events_received()
    connection.reply(event.frame, ModelVerifyReply(PILE, "0000", 0))
    ours, sample = connection.data_to_send(), SAMPLES["model_verify_reply"]
    assert ours[2:4] == SAMPLES["model_verify"][2:4] == b"\x71\xad"
    assert sample[2:4] == b"\xad\x71"  # JCPP's reply swapped them
    assert ours[4:-2] == sample[4:-2]


def test_frames_before_login_are_flagged_and_commands_refused() -> None:
    connection = YkcConnection()
    connection.receive_data(SAMPLES["heartbeat"])
    (event,) = connection.events_received()
    assert isinstance(event, FrameBeforeLogin)
    with pytest.raises(YkcUsageError):
        connection.send_command(RemoteStop(PILE, "01"), now=0.0)


def test_a_failed_login_keeps_the_gate_closed() -> None:
    connection = YkcConnection()
    connection.receive_data(SAMPLES["login"])
    (event,) = connection.events_received()
    connection.reply(event.frame, LoginReply(PILE, 1))
    assert not connection.logged_in


def test_wrong_reply_type_is_a_usage_error() -> None:
    connection = logged_in()
    connection.receive_data(SAMPLES["heartbeat"])
    (event,) = connection.events_received()
    with pytest.raises(YkcUsageError):
        connection.reply(event.frame, LoginReply(PILE, 0))


def test_commands_are_numbered_from_zero_little_endian() -> None:
    connection = logged_in()
    first = connection.send_command(RemoteStop(PILE, "01"), now=10.0)
    second = connection.send_command(RemoteStop(PILE, "02"), now=10.0)
    out = connection.data_to_send()
    assert first is not None and second is not None
    assert (first.seq, second.seq) == (0, 1)
    assert out[2:4] == b"\x00\x00" and out[16 + 2 : 16 + 4] == b"\x01\x00"


def test_seq_wraps_and_skips_numbers_still_awaiting_a_reply() -> None:
    connection = logged_in()
    connection._next_seq = 0xFFFF
    a = connection.send_command(RemoteStop(PILE, "01"), now=0.0)
    b = connection.send_command(RemoteStop(PILE, "02"), now=0.0)
    assert a is not None and b is not None and (a.seq, b.seq) == (0xFFFF, 0)
    connection._next_seq = 0xFFFF
    c = connection.send_command(RemoteStop(PILE, "03"), now=0.0)
    assert c is not None and c.seq == 1


def test_reply_matched_by_echoed_seq() -> None:
    connection = logged_in()
    command = connection.send_command(RemoteStop(PILE, "01"), now=5.0)
    assert command is not None
    (event,) = pile_says(connection, RemoteStopResult(PILE, "01", 1, 0), command.seq)
    assert isinstance(event, ReplyReceived)
    assert (event.command, event.final, event.matched_by) == (command, True, "seq")
    assert connection.pending == () and connection.next_deadline() is None


def test_reply_with_its_own_seq_is_matched_by_content() -> None:
    connection = logged_in()
    stop1 = connection.send_command(RemoteStop(PILE, "01"), now=0.0)
    stop2 = connection.send_command(RemoteStop(PILE, "02"), now=0.0)
    (event,) = pile_says(connection, RemoteStopResult(PILE, "02", 1, 0), 0x4242)
    assert isinstance(event, ReplyReceived)
    assert event.command is stop2 and event.matched_by == "content"
    assert connection.pending == (stop1,)


def test_reply_nobody_waits_for_is_unexpected() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, RebootReply(PILE, 1), 3)
    assert isinstance(event, UnexpectedFrame)


def test_start_not_plugged_stays_pending_until_the_second_answer() -> None:
    connection = logged_in()
    start = RemoteStart(TRADE, PILE, "01", "0000000000000001", "0000000000000000", 10000)
    command = connection.send_command(start, now=100.0)
    assert command is not None and connection.next_deadline() == 190.0
    (first,) = pile_says(connection, RemoteStartResult(TRADE, PILE, "01", 0, 5), command.seq)
    assert isinstance(first, ReplyReceived) and not first.final
    assert connection.pending == (command,)
    (second,) = pile_says(connection, RemoteStartResult(TRADE, PILE, "01", 1, 0), command.seq)
    assert isinstance(second, ReplyReceived) and second.final
    assert connection.pending == ()
    (third,) = pile_says(connection, RemoteStartResult(TRADE, PILE, "01", 1, 0), command.seq)
    assert isinstance(third, UnexpectedFrame)  # a duplicate answer


def test_start_result_for_another_trade_does_not_match() -> None:
    connection = logged_in()
    start = RemoteStart(TRADE, PILE, "01", "0000000000000001", "0000000000000000", 10000)
    command = connection.send_command(start, now=0.0)
    other = "9" * 32
    (event,) = pile_says(connection, RemoteStartResult(other, PILE, "01", 1, 0), command.seq)  # type: ignore[union-attr]
    assert isinstance(event, UnexpectedFrame)


def test_timeouts_on_a_fake_clock() -> None:
    connection = logged_in()
    sync = connection.send_command(
        TimeSync(PILE, Cp56Time.from_epoch_ms(1_733_000_000_000)), now=0.0
    )
    reboot = connection.send_command(Reboot(PILE, 1), now=10.0)
    assert connection.next_deadline() == 30.0
    assert connection.timeouts(29.9) == []
    assert connection.timeouts(30.0) == [CommandTimedOut(sync)]  # type: ignore[arg-type]
    assert connection.next_deadline() == 40.0
    late = pile_says(connection, TimeSyncReply(PILE, None), sync.seq)  # type: ignore[union-attr]
    assert isinstance(late[0], UnexpectedFrame)
    assert connection.timeouts(100.0) == [CommandTimedOut(reboot)]  # type: ignore[arg-type]
    assert connection.next_deadline() is None


def test_reply_timeouts_are_injectable() -> None:
    connection = YkcConnection(reply_timeouts={Reboot.TYPE: 5.0})
    connection.receive_data(SAMPLES["login"])
    connection.reply(connection.events_received()[0].frame, LoginReply(PILE, 0))  # type: ignore[union-attr]
    connection.send_command(Reboot(PILE, 2), now=1.0)
    assert connection.next_deadline() == 6.0


def test_read_realtime_is_sent_but_not_awaited() -> None:
    connection = logged_in()
    assert connection.send_command(ReadRealtime(PILE, "01"), now=0.0) is None
    assert connection.pending == () and connection.data_to_send()[5] == 0x12


def test_replies_are_not_commands() -> None:
    connection = logged_in()
    with pytest.raises(YkcUsageError):
        connection.send_command(LoginReply(PILE, 0), now=0.0)
    with pytest.raises(YkcUsageError):
        connection.send_command(Heartbeat(PILE, "01", 0), now=0.0)


def test_platform_frame_types_from_a_pile_are_unexpected() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, HeartbeatReply(PILE, "01"), 1)
    assert isinstance(event, UnexpectedFrame)


def test_garbage_becomes_decode_failed_and_the_stream_continues() -> None:
    connection = logged_in()
    connection.receive_data(b"\x00\x01" + SAMPLES["realtime"])
    events = connection.events_received()
    assert isinstance(events[0], DecodeFailed) and isinstance(events[1], FrameReceived)


def test_connection_lost_abandons_commands_and_restarts_numbering() -> None:
    connection = logged_in()
    command = connection.send_command(RemoteStop(PILE, "01"), now=0.0)
    connection.receive_data(SAMPLES["heartbeat"][:5])
    assert connection.connection_lost() == [command]
    assert not connection.logged_in and connection.pending == ()
    connection.receive_data(SAMPLES["login"])
    (event,) = connection.events_received()
    assert isinstance(event, FrameReceived)  # the half heartbeat was dropped
    connection.reply(event.frame, LoginReply(PILE, 0))
    again = connection.send_command(RemoteStop(PILE, "01"), now=0.0)
    assert again is not None and again.seq == 0
