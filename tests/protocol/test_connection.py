"""PilegateConnection: every rule of a v1 connection, each on the injected clock (plain numbers
passed in as ``now``). What goes out is read back with the decoder, and where docs/protocol.md
spells a frame out byte for byte, compared with those bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pilegate import (
    BadCrc,
    FrameDecoder,
    MsgType,
    NackReason,
    Result,
    encode,
)
from protocol.pilegate import connection as connection_module
from protocol.pilegate.codec import Frame, crc16_modbus
from protocol.pilegate.connection import (
    CloseCause,
    CommandTimedOut,
    ConnectionClosed,
    ConnectionClosing,
    DecodeFailed,
    Event,
    FrameReceived,
    FrameRefused,
    PilegateConnection,
    PilegateUsageError,
    ReplyReceived,
    UnmatchedReply,
)
from protocol.pilegate.examples import EXAMPLES, T0, TXID
from protocol.pilegate.messages import (
    Ack,
    AuthRequest,
    AuthResult,
    CommandAck,
    Enable,
    Heartbeat,
    HeartbeatAck,
    Login,
    LoginAck,
    Logout,
    Message,
    MeterValues,
    Nack,
    StartCharge,
    StatusChange,
    StopCharge,
    TimeSync,
)

LOGIN = cast(Login, EXAMPLES[MsgType.LOGIN][1])
HEARTBEAT = EXAMPLES[MsgType.HEARTBEAT][1]
START = cast(StartCharge, EXAMPLES[MsgType.START_CHARGE][1])
STATUS = cast(StatusChange, EXAMPLES[MsgType.STATUS_CHANGE][1])
METER = cast(MeterValues, EXAMPLES[MsgType.METER_VALUES][1])
GUNS = {1, 2}


def sent(connection: PilegateConnection) -> list[tuple[int, Message]]:
    """What the connection wrote, decoded: (seq, message) per frame."""
    items = FrameDecoder().feed(connection.data_to_send())
    assert all(isinstance(item, Frame) for item in items), items
    return [(item.seq, item.message) for item in items if isinstance(item, Frame)]


def pile_says(
    connection: PilegateConnection, message: Message, seq: int, now: float = 0.0
) -> list[Event]:
    connection.receive_data(encode(message, seq), now)
    return connection.events_received()


def login_frame(connection: PilegateConnection, seq: int = 1, now: float = 0.0) -> Frame:
    (event,) = pile_says(connection, LOGIN, seq, now)
    assert isinstance(event, FrameReceived)
    return event.frame


def logged_in(
    *,
    login_timeout: float = 10.0,
    command_timeout: float = 10.0,
    bad_frame_burst: int = 20,
) -> PilegateConnection:
    connection = PilegateConnection(
        0.0,
        login_timeout=login_timeout,
        command_timeout=command_timeout,
        bad_frame_burst=bad_frame_burst,
    )
    connection.accept_login(login_frame(connection), time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    connection.data_to_send()
    return connection


def received(events: list[Event]) -> Frame:
    (event,) = events
    assert isinstance(event, FrameReceived)
    return event.frame


def crc_broken(message: Message, seq: int) -> bytes:
    data = bytearray(encode(message, seq))
    data[-1] ^= 0xFF
    return bytes(data)


def with_crc(frame: bytes | bytearray) -> bytes:
    """A frame's bytes with its CRC recomputed (for frames broken on purpose inside)."""
    body = bytes(frame[:-2])
    return body + crc16_modbus(body[1:]).to_bytes(2, "little")


# --- login ---------------------------------------------------------------------------------


def test_an_accepted_login_is_answered_ok_with_its_seq_clock_and_interval() -> None:
    connection = PilegateConnection(0.0)
    frame = login_frame(connection, seq=7)
    assert connection.logged_in is False and connection.awaiting_answer == (frame,)
    out = connection.accept_login(frame, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    assert sent(connection) == [(7, LoginAck(Result.OK, T0, 30))]
    assert out is not None and out.seq == 7 and out.data == encode(LoginAck(0, T0, 30), 7)
    assert connection.logged_in and connection.pile_id == LOGIN.pile_id
    assert connection.guns == frozenset(GUNS) and connection.awaiting_answer == ()


@pytest.mark.parametrize(
    "message",
    [HEARTBEAT, STATUS, EXAMPLES[MsgType.BILL][1], CommandAck(MsgType.ENABLE, 0, Result.OK)],
    ids=lambda m: type(m).__name__,
)
def test_before_login_a_frame_is_nacked_unexpected_and_not_handed_out(message: Message) -> None:
    connection = PilegateConnection(0.0)
    (event,) = pile_says(connection, message, 5)
    assert isinstance(event, FrameRefused)
    assert (event.reason, event.why) == (NackReason.UNEXPECTED, "not logged in")
    assert sent(connection) == [(5, Nack(message.TYPE, NackReason.UNEXPECTED))]


def test_a_nack_is_never_answered_even_before_login_and_is_not_a_bad_frame() -> None:
    connection = PilegateConnection(0.0, bad_frame_burst=1)
    (event,) = pile_says(connection, Nack(MsgType.ENABLE, NackReason.BAD_CRC), 3)
    assert isinstance(event, UnmatchedReply)
    assert connection.data_to_send() == b"" and not connection.closed


def test_frames_behind_a_pending_login_wait_for_it_and_follow_its_answer_in_order() -> None:
    connection = PilegateConnection(0.0)
    frame = login_frame(connection, seq=1)
    assert pile_says(connection, HEARTBEAT, 2) == []  # the login is still being decided
    assert pile_says(connection, LOGIN, 3) == []
    assert connection.data_to_send() == b""
    connection.accept_login(frame, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    heartbeat, second_login = connection.events_received()
    assert isinstance(heartbeat, FrameReceived) and heartbeat.frame.seq == 2
    assert isinstance(second_login, FrameRefused) and second_login.why == "already logged in"
    connection.reply(heartbeat.frame, HeartbeatAck())
    assert sent(connection) == [
        (1, LoginAck(Result.OK, T0, 30)),
        (3, Nack(MsgType.LOGIN, NackReason.UNEXPECTED)),
        (2, HeartbeatAck()),
    ]


def test_a_refused_login_is_answered_with_the_clock_and_closes_dropping_what_waited() -> None:
    connection = PilegateConnection(0.0)
    frame = login_frame(connection, seq=4)
    pile_says(connection, HEARTBEAT, 5)
    out = connection.refuse_login(frame, Result.CLOCK_SKEW, time_ms=T0)
    assert out is not None and out.message == LoginAck(Result.CLOCK_SKEW, T0, 0)
    assert connection.events_received() == [
        ConnectionClosing(CloseCause.LOGIN_REFUSED, "login refused: clock_skew")
    ]
    assert sent(connection) == [(4, LoginAck(Result.CLOCK_SKEW, T0, 0))]
    assert pile_says(connection, LOGIN, 6) == [] and connection.data_to_send() == b""
    assert connection.closed and connection.close_reason == "login refused: clock_skew"


def test_a_second_login_after_the_first_is_accepted_is_nacked_unexpected() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, LOGIN, 9)
    assert isinstance(event, FrameRefused) and event.why == "already logged in"
    assert sent(connection) == [(9, Nack(MsgType.LOGIN, NackReason.UNEXPECTED))]


def test_no_login_within_the_login_timeout_closes_the_connection() -> None:
    connection = PilegateConnection(100.0, login_timeout=10.0)
    assert connection.next_deadline() == 110.0
    connection.tick(109.999)
    assert connection.events_received() == [] and not connection.closed
    connection.tick(110.0)
    assert connection.events_received() == [
        ConnectionClosing(CloseCause.LOGIN_TIMEOUT, "no login in time")
    ]
    assert connection.next_deadline() is None


def test_a_login_in_stops_the_login_timeout_however_long_the_owner_takes_to_decide() -> None:
    # A gateway slow in a login storm must not close piles that did send their LOGIN.
    connection = PilegateConnection(0.0, login_timeout=10.0)
    frame = login_frame(connection, now=9.0)
    assert connection.next_deadline() is None
    connection.tick(60.0)
    assert connection.events_received() == [] and not connection.closed
    assert connection.accept_login(frame, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    assert connection.logged_in and connection.data_to_send() != b""


def test_a_late_answer_to_a_login_on_a_closed_connection_is_dropped() -> None:
    connection = PilegateConnection(0.0, login_timeout=10.0)
    frame = login_frame(connection, now=9.0)
    connection.close("the pile hung up")
    connection.events_received()
    assert connection.accept_login(frame, time_ms=T0, heartbeat_interval_s=30, guns=GUNS) is None
    assert connection.data_to_send() == b"" and not connection.logged_in


def test_an_accepted_login_stops_the_login_timeout() -> None:
    connection = logged_in(login_timeout=10.0)
    assert connection.next_deadline() is None
    connection.tick(1_000.0)
    assert connection.events_received() == [] and not connection.closed


def test_a_login_the_owner_failed_on_gets_internal_error_and_a_new_login_is_awaited() -> None:
    connection = PilegateConnection(0.0)
    frame = login_frame(connection, seq=1)
    pile_says(connection, HEARTBEAT, 2)
    pile_says(connection, LOGIN, 3)
    pile_says(connection, HEARTBEAT, 4)
    out = connection.fail(frame)
    assert out is not None and out.message == Nack(MsgType.LOGIN, NackReason.INTERNAL_ERROR)
    refused, relogin = connection.events_received()
    assert isinstance(refused, FrameRefused) and refused.why == "not logged in"
    assert isinstance(relogin, FrameReceived) and relogin.frame.seq == 3
    connection.accept_login(relogin.frame, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    assert received(connection.events_received()).seq == 4
    assert [seq for seq, _ in sent(connection)] == [1, 2, 3]


# --- what the pile may send once logged in ----------------------------------------------------


def test_a_heartbeat_is_handed_out_and_answered_with_its_seq() -> None:
    connection = logged_in()
    frame = received(pile_says(connection, HEARTBEAT, 300))
    connection.reply(frame, HeartbeatAck())
    assert connection.data_to_send() == encode(HeartbeatAck(), 300)


def test_a_gateway_message_from_a_pile_is_nacked_unexpected() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, START, 12)
    assert isinstance(event, FrameRefused)
    assert (event.reason, event.why) == (NackReason.UNEXPECTED, "a gateway message, not a pile's")
    assert sent(connection) == [(12, Nack(MsgType.START_CHARGE, NackReason.UNEXPECTED))]


def test_an_event_naming_a_gun_the_pile_lacks_is_nacked_bad_field_as_documented() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, replace(METER, gun=3), 11)
    assert isinstance(event, FrameRefused) and event.why == "no such gun on this pile"
    # docs/protocol.md §7.13: NACK of a METER_VALUES, BAD_FIELD, seq 11.
    assert connection.data_to_send() == bytes.fromhex("680006000b018c080445de")


def test_logout_may_name_gun_zero_and_other_requests_are_not_gun_checked() -> None:
    connection = logged_in()
    logout = received(pile_says(connection, Logout(0, TXID, 1, T0), 1))
    auth = received(pile_says(connection, AuthRequest(9, 3, "CARD"), 2))
    connection.reply(logout, Ack(MsgType.LOGOUT))
    connection.reply(auth, AuthResult(9, Result.OK, TXID, "A", 0))
    assert [type(m).__name__ for _, m in sent(connection)] == ["Ack", "AuthResult"]


def test_a_status_change_of_gun_zero_is_refused() -> None:
    connection = logged_in()
    (event,) = pile_says(connection, replace(STATUS, gun=0), 1)
    assert isinstance(event, FrameRefused) and event.reason is NackReason.BAD_FIELD


# --- bad input -------------------------------------------------------------------------------


def _corrupt(frame: bytes, at: int, value: int) -> bytes:
    data = bytearray(frame)
    data[at] = value
    return with_crc(data)


HB = encode(HEARTBEAT, 0x0102)


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (crc_broken(HEARTBEAT, 0x0102), (0x0102, Nack(MsgType.HEARTBEAT, NackReason.BAD_CRC))),
        (_corrupt(HB, 5, 2), (0x0102, Nack(MsgType.HEARTBEAT, NackReason.UNSUPPORTED_VERSION))),
        (_corrupt(HB, 6, 0x7E), (0x0102, Nack(0x7E, NackReason.UNKNOWN_TYPE))),
        (_corrupt(HB, 7, 9), (0x0102, Nack(MsgType.HEARTBEAT, NackReason.TRUNCATED))),
        (
            _corrupt(encode(LOGIN, 0x0102), 7, 0xAB),  # a pile id that is not BCD
            (0x0102, Nack(MsgType.LOGIN, NackReason.BAD_FIELD)),
        ),
        (b"\x01\x02\x03", None),  # garbage: no frame to name
        (b"\x68\x00\x02", None),  # impossible length: no frame to name
    ],
    ids=["crc", "version", "type", "truncated", "field", "garbage", "length"],
)
def test_a_bad_frame_gets_the_nack_its_problem_names(
    data: bytes, answer: tuple[int, Nack] | None
) -> None:
    connection = PilegateConnection(0.0)
    connection.receive_data(data, 5.0)
    event, *rest = connection.events_received()  # a CRC or length error: the rest is garbage
    assert isinstance(event, DecodeFailed) and (event.nack is None) is (answer is None)
    assert all(isinstance(e, DecodeFailed) and e.nack is None for e in rest)
    assert sent(connection) == ([] if answer is None else [answer])
    assert connection.last_received == 5.0


def test_a_bad_crc_nack_names_the_unverified_type_byte_even_zero() -> None:
    connection = PilegateConnection(0.0)
    data = bytearray(crc_broken(HEARTBEAT, 9))
    data[6] = 0
    connection.receive_data(bytes(data), 0.0)
    event, *rest = connection.events_received()  # then the rest of the bytes, as garbage
    assert isinstance(event, DecodeFailed) and isinstance(event.error, BadCrc)
    assert all(e.nack is None for e in rest if isinstance(e, DecodeFailed))
    assert sent(connection) == [(9, Nack(0, NackReason.BAD_CRC))]


def test_a_websocket_message_holds_exactly_one_frame() -> None:
    connection = logged_in()
    connection.receive_frame(encode(HEARTBEAT, 1) + encode(HEARTBEAT, 2), 0.0)
    (event,) = connection.events_received()
    assert isinstance(event, DecodeFailed) and event.nack is None  # rejected whole, no seq
    connection.receive_frame(encode(HEARTBEAT, 3), 0.0)
    assert received(connection.events_received()).seq == 3


def test_partial_bytes_are_not_yet_input() -> None:
    connection = logged_in()
    frame = encode(HEARTBEAT, 1)
    connection.receive_data(frame[:10], 50.0)
    assert connection.last_received == 0.0 and connection.buffered == 10
    connection.receive_data(frame[10:], 60.0)
    assert connection.last_received == 60.0 and received(connection.events_received()).seq == 1


def unknown_type(seq: int) -> bytes:
    """One bad frame, consumed whole: a heartbeat with type byte 0x7E."""
    return _corrupt(encode(HEARTBEAT, seq), 6, 0x7E)


def test_a_burst_of_bad_frames_within_the_window_closes_the_connection() -> None:
    connection = PilegateConnection(0.0, bad_frame_burst=3, bad_frame_window=10.0)
    for now in (0.0, 5.0):
        connection.receive_data(unknown_type(1), now)
    assert not connection.closed
    connection.receive_data(unknown_type(2) + encode(LOGIN, 3), 10.0)
    *_, closing = connection.events_received()
    assert closing == ConnectionClosing(CloseCause.BAD_FRAME_BURST, "3 bad frames within 10 s")
    # The third NACK still goes out; the LOGIN after it in the same read is ignored.
    assert sent(connection)[-1] == (2, Nack(0x7E, NackReason.UNKNOWN_TYPE))
    connection.receive_data(encode(LOGIN, 4), 11.0)
    assert connection.events_received() == [] and connection.data_to_send() == b""


def test_bad_frames_older_than_the_window_are_forgotten() -> None:
    connection = PilegateConnection(0.0, bad_frame_burst=3, bad_frame_window=10.0)
    for now in (0.0, 5.0, 10.001):
        connection.receive_data(unknown_type(1), now)
    assert not connection.closed


def test_refused_frames_count_as_bad_and_internal_errors_do_not() -> None:
    connection = logged_in(bad_frame_burst=2)
    frame = received(pile_says(connection, HEARTBEAT, 1))
    connection.fail(frame)
    pile_says(connection, START, 2)
    assert not connection.closed
    pile_says(connection, START, 3)
    assert connection.closed


# --- answering -----------------------------------------------------------------------------------


def test_a_request_the_owner_failed_on_gets_internal_error_unless_it_was_answered() -> None:
    connection = logged_in()
    first = received(pile_says(connection, HEARTBEAT, 1))
    second = received(pile_says(connection, HEARTBEAT, 2))
    connection.reply(first, HeartbeatAck())
    assert connection.fail(first) is None
    connection.fail(second)
    assert sent(connection) == [
        (1, HeartbeatAck()),
        (2, Nack(MsgType.HEARTBEAT, NackReason.INTERNAL_ERROR)),
    ]
    assert connection.fail(second) is None  # answered once only


def test_a_request_may_be_answered_later_and_out_of_order() -> None:
    connection = logged_in()
    bill = received(pile_says(connection, EXAMPLES[MsgType.BILL][1], 10))
    beat = received(pile_says(connection, HEARTBEAT, 11))
    assert connection.awaiting_answer == (bill, beat)
    connection.reply(beat, HeartbeatAck())
    connection.reply(bill, EXAMPLES[MsgType.BILL_ACK][1])
    assert [seq for seq, _ in sent(connection)] == [11, 10]


@pytest.mark.parametrize(
    ("request_", "answer"),
    [
        (HEARTBEAT, Ack(MsgType.HEARTBEAT)),
        (STATUS, Ack(MsgType.METER_VALUES)),  # an ACK names the type it acknowledges
        (STATUS, HeartbeatAck()),
        (EXAMPLES[MsgType.BILL][1], Ack(MsgType.BILL)),
    ],
    ids=["heartbeat-ack", "wrong-acked-type", "status-heartbeat-ack", "bill-ack"],
)
def test_an_answer_of_the_wrong_type_is_a_usage_error(request_: Message, answer: Message) -> None:
    connection = logged_in()
    frame = received(pile_says(connection, request_, 1))
    with pytest.raises(PilegateUsageError):
        connection.reply(frame, answer)
    assert connection.data_to_send() == b"" and connection.awaiting_answer == (frame,)


def test_answering_twice_or_a_login_by_reply_is_a_usage_error() -> None:
    connection = PilegateConnection(0.0)
    login = login_frame(connection)
    with pytest.raises(PilegateUsageError):
        connection.reply(login, LoginAck(Result.OK, T0, 30))
    connection.accept_login(login, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    with pytest.raises(PilegateUsageError):
        connection.accept_login(login, time_ms=T0, heartbeat_interval_s=30, guns=GUNS)
    frame = received(pile_says(connection, STATUS, 2))
    connection.reply(frame, Nack(MsgType.STATUS_CHANGE, NackReason.BAD_FIELD))  # any request
    with pytest.raises(PilegateUsageError):
        connection.reply(frame, Ack(MsgType.STATUS_CHANGE))


def test_answers_after_the_connection_closed_or_was_lost_send_nothing() -> None:
    connection = logged_in()
    first = received(pile_says(connection, HEARTBEAT, 1))
    second = received(pile_says(connection, HEARTBEAT, 2))
    connection.close("replaced")
    assert connection.reply(first, HeartbeatAck()) is None
    connection.connection_lost()
    assert connection.reply(second, HeartbeatAck()) is None
    assert connection.reply(second, HeartbeatAck()) is None
    assert connection.data_to_send() == b""


def test_an_owner_that_never_answers_does_not_grow_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection_module, "MAX_OPEN_REQUESTS", 3)
    connection = logged_in()
    frames = [received(pile_says(connection, HEARTBEAT, seq)) for seq in range(5)]
    assert connection.awaiting_answer == tuple(frames[2:])


# --- commands ------------------------------------------------------------------------------------


def test_commands_are_numbered_from_one_wrapping_and_skipping_a_seq_still_awaited() -> None:
    connection = logged_in()
    assert [connection.send_command(Enable(0), 0.0).seq for _ in range(2)] == [1, 2]
    connection._seq = 0xFFFE  # as if 65,534 commands had gone out
    assert [connection.send_command(Enable(0), 0.0).seq for _ in range(3)] == [0xFFFF, 0, 3]
    assert [seq for seq, _ in sent(connection)] == [1, 2, 0xFFFF, 0, 3]


def test_a_command_ack_is_matched_by_seq_and_command_type() -> None:
    connection = logged_in()
    start = connection.send_command(START, 0.0)
    stop = connection.send_command(StopCharge(1, TXID, 2), 0.0)
    assert sent(connection) == [(1, START), (2, StopCharge(1, TXID, 2))]
    (wrong,) = pile_says(connection, CommandAck(MsgType.STOP_CHARGE, 1, Result.OK), 1)
    assert isinstance(wrong, UnmatchedReply)
    (stray,) = pile_says(connection, CommandAck(MsgType.STOP_CHARGE, 1, Result.OK), 9)
    assert isinstance(stray, UnmatchedReply)
    ack = CommandAck(MsgType.STOP_CHARGE, 1, Result.GUN_BUSY)
    (reply,) = pile_says(connection, ack, 2)
    assert isinstance(reply, ReplyReceived) and reply.command is stop and reply.ack == ack
    assert connection.pending == (start,)
    (again,) = pile_says(connection, ack, 2)
    assert isinstance(again, UnmatchedReply)  # a command is answered once
    assert connection.data_to_send() == b""  # replies are never answered


def test_a_pile_nack_refuses_the_command_it_names() -> None:
    connection = logged_in()
    command = connection.send_command(TimeSync(T0), 0.0)
    assert sent(connection) == [(1, TimeSync(T0))]
    (wrong,) = pile_says(connection, Nack(MsgType.ENABLE, NackReason.BAD_CRC), command.seq)
    assert isinstance(wrong, UnmatchedReply) and connection.pending == (command,)
    nack = Nack(MsgType.TIME_SYNC, NackReason.BAD_FIELD)
    (reply,) = pile_says(connection, nack, command.seq)
    assert isinstance(reply, ReplyReceived) and reply.command is command
    assert reply.ack == CommandAck(MsgType.TIME_SYNC, 0, Result.OTHER) and reply.nack == nack
    assert not connection.pending and connection.data_to_send() == b""


def test_a_command_unanswered_by_its_deadline_times_out_and_a_late_ack_is_unmatched() -> None:
    connection = logged_in(command_timeout=10.0)
    first = connection.send_command(Enable(0), 100.0)
    second = connection.send_command(Enable(1), 101.0, timeout=2.0)
    assert (first.deadline, second.deadline) == (110.0, 103.0)
    assert connection.next_deadline() == 103.0
    connection.tick(102.999)
    assert connection.events_received() == []
    connection.tick(103.0)
    assert connection.events_received() == [CommandTimedOut(second)]
    assert connection.next_deadline() == 110.0
    connection.tick(110.0)
    assert connection.events_received() == [CommandTimedOut(first)]
    (late,) = pile_says(connection, CommandAck(MsgType.ENABLE, 0, Result.OK), first.seq)
    assert isinstance(late, UnmatchedReply) and connection.next_deadline() is None


def test_what_is_not_a_command_or_comes_before_login_or_after_close_is_refused() -> None:
    connection = PilegateConnection(0.0)
    with pytest.raises(PilegateUsageError):
        connection.send_command(Enable(0), 0.0)  # not logged in
    connection = logged_in()
    with pytest.raises(PilegateUsageError):
        connection.send_command(HeartbeatAck(), 0.0)
    connection.close("shutdown")
    with pytest.raises(ConnectionError):
        connection.send_command(Enable(0), 0.0)
    with pytest.raises(ConnectionClosed):
        connection.send_command(Enable(0), 0.0)
    assert connection.data_to_send() == b""


def test_a_lost_connection_abandons_the_commands_awaited() -> None:
    connection = logged_in()
    commands = [connection.send_command(Enable(gun), 0.0) for gun in (0, 1)]
    assert connection.connection_lost("lost: reset") == commands
    assert connection.closed and connection.close_reason == "lost: reset"
    assert connection.pending == () and connection.next_deadline() is None


def test_close_is_announced_once_and_keeps_its_first_reason() -> None:
    connection = logged_in()
    connection.close("pile replaced")
    connection.close("shutdown")
    assert connection.events_received() == [ConnectionClosing(CloseCause.OWNER, "pile replaced")]
    assert connection.close_reason == "pile replaced"
    assert pile_says(connection, HEARTBEAT, 1) == []


def test_heartbeat_round_trip_allocates_nothing_per_frame_beyond_its_answer() -> None:
    """A steady heartbeat leaves no state behind (nothing grows per frame)."""
    connection = logged_in()
    for seq in range(1_000):
        frame = received(pile_says(connection, Heartbeat(()), seq, now=float(seq)))
        connection.reply(frame, HeartbeatAck())
    assert connection.awaiting_answer == () and connection.pending == ()
    assert len(connection.data_to_send()) == 1_000 * 9


# --- the published conversation ------------------------------------------------------------------


def vector(name: str) -> bytes:
    path = Path(__file__).resolve().parents[1] / "vectors" / f"{name}.json"
    return bytes.fromhex(json.loads(path.read_text())["hex"])


def test_the_golden_frames_of_a_session_get_the_golden_answers() -> None:
    """The frames a firmware author finds in tests/vectors (and docs/protocol.md) are answered
    byte for byte as published: login, heartbeat, a start with its COMMAND_ACK, an event."""
    connection = PilegateConnection(0.0)
    connection.receive_data(vector("login"), 0.0)
    login = received(connection.events_received())
    connection.accept_login(login, time_ms=T0 + 40, heartbeat_interval_s=30, guns=GUNS)
    assert connection.data_to_send() == vector("login_ack")
    connection.receive_data(vector("heartbeat"), 1.0)
    connection.reply(received(connection.events_received()), HeartbeatAck())
    assert connection.data_to_send() == vector("heartbeat_ack")
    for _ in range(16):  # the published START_CHARGE is the gateway's 17th command
        connection.tick(connection.send_command(Enable(0), 1.0).deadline)
    connection.data_to_send()
    connection.events_received()
    command = connection.send_command(START, 2.0)
    assert connection.data_to_send() == vector("start_charge")
    connection.receive_data(vector("command_ack") + vector("start_result"), 3.0)
    reply, event = connection.events_received()
    assert isinstance(reply, ReplyReceived) and reply.command is command
    assert isinstance(event, FrameReceived)
    connection.reply(event.frame, Ack(MsgType.START_RESULT, Result.OK))
    assert connection.data_to_send() == vector("ack")


# --- anything at all ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(
        st.one_of(
            st.binary(max_size=60),
            st.sampled_from(
                [encode(m, s) for s, m in EXAMPLES.values()] + [crc_broken(HEARTBEAT, 1)]
            ),
        ),
        max_size=25,
    ),
    login_first=st.booleans(),
)
def test_any_input_never_raises_and_is_only_ever_answered_with_nacks(
    chunks: list[bytes], login_first: bool
) -> None:
    connection = logged_in(bad_frame_burst=1_000) if login_first else PilegateConnection(0.0)
    for now, chunk in enumerate(chunks):
        connection.receive_data(chunk, float(now))
        connection.tick(float(now))
    events = connection.events_received()
    answers = sent(connection)
    assert all(isinstance(message, Nack) for _, message in answers)
    assert len(answers) == sum(
        1 for e in events if isinstance(e, DecodeFailed | FrameRefused) and e.nack is not None
    )
