"""Code tables of the pile protocol v1 (docs/protocol.md, "Code tables").

Message fields carry these as plain ints on the hot path; compare them with the enums
(IntEnum compares equal to int) and convert with ``Enum(value)`` where a name is wanted.
"""

from __future__ import annotations

from enum import IntEnum


class MsgType(IntEnum):
    # pile -> gateway
    LOGIN = 0x01
    LOGOUT = 0x02
    HEARTBEAT = 0x03
    STATUS_CHANGE = 0x04
    AUTH_REQUEST = 0x05
    START_RESULT = 0x06
    STOP_RESULT = 0x07
    METER_VALUES = 0x08
    VIN = 0x09
    BILL = 0x0A
    COMMAND_ACK = 0x0B
    # gateway -> pile
    ACK = 0x80
    LOGIN_ACK = 0x81
    HEARTBEAT_ACK = 0x82
    AUTH_RESULT = 0x83
    START_CHARGE = 0x84
    STOP_CHARGE = 0x85
    BILL_ACK = 0x86
    SET_TARIFF = 0x87
    ENABLE = 0x88
    DISABLE = 0x89
    QUERY_BILLS = 0x8A
    TIME_SYNC = 0x8B
    NACK = 0x8C
    SET_IDLE_FEE = 0x8D


class GunStatus(IntEnum):
    AVAILABLE = 0
    PREPARING = 1  # plugged in, no energy yet
    CHARGING = 2
    SUSPENDED_EV = 3  # the car paused the charge
    SUSPENDED_EVSE = 4  # the pile paused the charge
    FINISHING = 5  # charge ended, still plugged
    RESERVED = 6
    UNAVAILABLE = 7  # disabled by the operator or out of service
    FAULTED = 8


class StopReason(IntEnum):
    NONE = 0
    USER = 1  # stopped at the pile (button, card)
    REMOTE = 2  # stop command from the gateway / app
    FULL = 3  # battery full or SOC target reached
    TIMEOUT = 4
    EMERGENCY_STOP = 5
    LIMIT_REACHED = 6  # energy, amount or time limit of the start command
    UNPLUGGED = 7  # connector pulled while charging
    INSUFFICIENT_BALANCE = 8
    POWER_LOSS = 9
    EV_DISCONNECTED = 10  # the car ended communication (BMS)
    DEVICE_FAULT = 98
    OTHER = 99


class FaultCode(IntEnum):
    NONE = 0
    EMERGENCY_STOP_PRESSED = 1
    OVER_VOLTAGE = 2
    UNDER_VOLTAGE = 3
    OVER_CURRENT = 4
    OVER_TEMPERATURE = 5
    INSULATION = 6
    GROUND = 7
    BMS_COMMUNICATION = 8
    CONTACTOR = 9
    METER = 10
    CONTROL_BOARD = 11
    DOOR_OPEN = 12
    DEVICE_FAULT = 98  # unspecified device fault; same value as StopReason.DEVICE_FAULT
    OTHER = 99


class Channel(IntEnum):
    """Where a start came from."""

    OWN_APP = 1
    PARTNER_APP = 2
    CARD = 3
    PASSWORD = 4
    VIN = 5
    OPERATOR = 6


class Result(IntEnum):
    """Result of LOGIN_ACK, AUTH_RESULT, START_RESULT, STOP_RESULT, COMMAND_ACK and ACK."""

    OK = 0
    UNKNOWN_PILE = 1
    PILE_DISABLED = 2
    UNSUPPORTED_VERSION = 3
    AUTH_FAILED = 4
    GUN_BUSY = 5
    GUN_FAULTED = 6
    GUN_NOT_PLUGGED = 7
    UNKNOWN_ACCOUNT = 8
    ACCOUNT_BUSY = 9  # the account already has an active service
    INSUFFICIENT_BALANCE = 10
    UNKNOWN_TRANSACTION = 11
    NOT_SUPPORTED = 12
    TIMEOUT = 13
    CLOCK_SKEW = 14  # LOGIN signed correctly, but pile_time_ms is outside the window
    DEVICE_FAULT = 98
    OTHER = 99


class BillAckStatus(IntEnum):
    ACCEPTED = 0
    DUPLICATE = 1  # already stored; the pile may forget it
    FLAGGED = 2  # stored with anomalies (bitmask in the ack); the pile may forget it
    REJECTED = 3  # not stored; the pile keeps it and re-sends later


class AnomalyBit(IntEnum):
    """Bit numbers of BILL_ACK `anomalies` (bit n set = reason n). 1..11 are the operator's
    anomaly codes; 16..30 are the gateway's own reasons for FLAGGED. FLAGGED always has at
    least one bit set."""

    BILL_LOST = 1  # the gateway had settled this bill as lost before it arrived
    BILL_LOST_OFFLINE = 2  # ... lost while the pile was offline
    TIME = 3  # times missing, out of order or in the future
    ENERGY = 4  # energy inconsistent with the meter, its periods, or the pile's power limit
    CHARGE_DURATION = 5  # charge longer than the limit, or energy with no charge time
    IDLE_DURATION = 6  # idle longer than the limit, or service end past the gateway's end
    OVERLAP = 7  # the account had another service at the same time
    ENERGY_DIFFERS = 8  # energy differs from the gateway's own record
    CHARGE_DURATION_DIFFERS = 9  # charge duration differs from the gateway's record
    IDLE_DURATION_DIFFERS = 10  # idle duration differs from the gateway's record
    ENERGY_LOST = 11  # energy flowed but the bill does not show it
    AMOUNT_MISMATCH = 16  # an amount differs from the gateway's tariff arithmetic
    AMOUNT_NEGATIVE = 17  # an amount is negative
    AMOUNT_INCONSISTENT = 18  # total differs from energy + service + idle fee
    UNKNOWN_SESSION = 19  # the gateway has no service with this transaction id
    SESSION_CANCELLED = 20  # the gateway had cancelled the service (start refused or timed out)
    START_FAILED = 21  # the service's start had failed (START_RESULT not OK)
    LATE_START = 22  # energy started after the gateway had given up on the start
    STOP_NOT_HONOURED = 23  # energy may have flowed after an acknowledged stop
    LATE_BILL = 24  # bill of a cancelled/failed start: idle not billed past the gateway's end
    LATE_LOGOUT = 25  # LOGOUT came after the gateway had ended the service
    ENDED_OFFLINE = 26  # the gateway closed the service while the pile was offline
    OTHER = 30  # a reason without a bit of its own (the gateway's log names it)


class NackReason(IntEnum):
    BAD_CRC = 1
    BAD_LENGTH = 2
    UNKNOWN_TYPE = 3
    BAD_FIELD = 4
    TRUNCATED = 5
    UNEXPECTED = 6  # valid frame that makes no sense now (before LOGIN) or from its sender
    UNSUPPORTED_VERSION = 7
    INTERNAL_ERROR = 8  # the receiver failed to process a valid frame: re-send it later


class TariffKind(IntEnum):
    SHARP = 1
    PEAK = 2
    FLAT = 3
    VALLEY = 4


#: Messages a pile sends that the gateway answers with a generic ACK.
ACKED_EVENTS = frozenset(
    {
        MsgType.LOGOUT,
        MsgType.STATUS_CHANGE,
        MsgType.START_RESULT,
        MsgType.STOP_RESULT,
        MsgType.METER_VALUES,
        MsgType.VIN,
    }
)

#: Types a pile may send (§4.1): 0x01-0x7F, and NACK, which either side may send.
#: Any other (0x80-0xFF) from a pile is answered with NACK UNEXPECTED.
FROM_PILE = frozenset({t for t in MsgType if t < 0x80} | {MsgType.NACK})

#: Gateway replies to a pile's request (each echoes the request's seq).
REPLIES = frozenset(
    {
        MsgType.ACK,
        MsgType.LOGIN_ACK,
        MsgType.HEARTBEAT_ACK,
        MsgType.AUTH_RESULT,
        MsgType.BILL_ACK,
        MsgType.NACK,
    }
)

#: Gateway commands the pile answers with COMMAND_ACK.
COMMANDS = frozenset(
    {
        MsgType.START_CHARGE,
        MsgType.STOP_CHARGE,
        MsgType.SET_TARIFF,
        MsgType.ENABLE,
        MsgType.DISABLE,
        MsgType.QUERY_BILLS,
        MsgType.TIME_SYNC,
        MsgType.SET_IDLE_FEE,
    }
)
