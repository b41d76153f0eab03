"""What a pile is given after LOGIN_ACK (docs/protocol.md §8.1), TIME_SYNC (§7.12), the gun of
a COMMAND_ACK (§3.3), NACK's nacked_type for a bad CRC (§2.6) and 16-digit pile ids (§3.2)."""

from __future__ import annotations

from gateway.app import Gateway
from gateway.commands import Outcome
from protocol.pilegate import (
    CommandAck,
    Frame,
    Login,
    MsgType,
    NackReason,
    Result,
    SetIdleFee,
    SetTariff,
    TimeSync,
    encode,
)
from protocol.pilegate.messages import IDLE_FEE_UNCAPPED
from tests.gateway.piles import PILE_ID, ScriptedPile

CONFIG_TYPES = {
    MsgType.TIME_SYNC,
    MsgType.ENABLE,
    MsgType.DISABLE,
    MsgType.SET_TARIFF,
    MsgType.SET_IDLE_FEE,
}


def configuration(pile: ScriptedPile) -> list[MsgType]:
    return [MsgType(f.message.TYPE) for f in pile.received if f.message.TYPE in CONFIG_TYPES]


async def login_at(gateway: Gateway, pile_time_ms: int, pile_id: str = PILE_ID) -> ScriptedPile:
    pile = ScriptedPile(pile_id)
    await pile.connect(gateway.tcp_port)
    seq = pile.send(Login(pile_id, "ACME", "DC120", "V2.3.7", 1, 2, pile_time_ms))
    ack = await pile.expect(MsgType.LOGIN_ACK, seq=seq)
    assert ack.message.result == Result.OK
    await pile.expect(MsgType.SET_IDLE_FEE)
    return pile


async def test_login_sends_state_tariff_and_idle_fee_in_order(gateway: Gateway) -> None:
    """Before: nothing followed LOGIN_ACK; a pile billed with whatever it had."""
    pile = await login_at(gateway, gateway.now_ms())
    try:
        assert configuration(pile) == [MsgType.ENABLE, MsgType.SET_TARIFF, MsgType.SET_IDLE_FEE]
        tariff = pile.of_type(MsgType.SET_TARIFF)[0].message
        assert isinstance(tariff, SetTariff)  # no tariff stored: the built-in default
        assert {(p.energy_price_e4, p.service_fee_e4) for p in tariff.prices} == {(10_000, 0)}
        rule = pile.of_type(MsgType.SET_IDLE_FEE)[0].message
        assert rule == SetIdleFee(15, 0, IDLE_FEE_UNCAPPED)  # no idle fee until one is set
        assert all(f.message.gun == 0 for f in pile.of_type(MsgType.ENABLE))
    finally:
        await pile.close()


async def test_time_sync_after_login_only_when_the_clock_drifted(gateway: Gateway) -> None:
    in_time = await login_at(gateway, gateway.now_ms() - 1_000)
    await in_time.close()
    assert MsgType.TIME_SYNC not in configuration(in_time)
    late = await login_at(gateway, gateway.now_ms() - 600_000)  # ten minutes behind
    try:
        assert configuration(late)[0] == MsgType.TIME_SYNC  # first, before the tariff
        sync = late.of_type(MsgType.TIME_SYNC)[0].message
        assert isinstance(sync, TimeSync)
        assert abs(sync.server_time_ms - gateway.now_ms()) < 60_000
    finally:
        await late.close()


async def test_time_sync_on_request_and_periodically(gateway: Gateway, pile: ScriptedPile) -> None:
    before = len(pile.of_type(MsgType.TIME_SYNC))
    result = await gateway.time_sync(PILE_ID)
    assert result.outcome is Outcome.ACCEPTED
    assert len(pile.of_type(MsgType.TIME_SYNC)) == before + 1
    runtime = gateway.piles[PILE_ID]
    gateway._periodic_time_sync()  # just synced: not due
    await gateway.background_done()
    assert len(pile.of_type(MsgType.TIME_SYNC)) == before + 1
    runtime.time_synced_ms -= int(gateway.config.piles.time_sync_interval_s * 1000)
    gateway._periodic_time_sync()
    await gateway.background_done()
    assert len(pile.of_type(MsgType.TIME_SYNC)) == before + 2
    await pile.close()
    await gateway.background_done()
    assert (await gateway.time_sync(PILE_ID)).outcome is Outcome.PILE_OFFLINE


async def test_command_ack_must_name_gun_0_for_whole_pile_commands(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    """§3.3: SET_TARIFF/TIME_SYNC have no gun; their COMMAND_ACK carries gun 0, nothing else."""
    pile.auto_ack = None

    async def answer(gun: int) -> Outcome:
        task = gateway.spawn(gateway.time_sync(PILE_ID))
        frame = await pile.expect(MsgType.TIME_SYNC, after=len(pile.received))
        pile.send(CommandAck(MsgType.TIME_SYNC, gun, Result.OK), frame.seq)
        return (await task).outcome

    assert await answer(1) is Outcome.REJECTED  # before: accepted whatever the gun
    assert await answer(0) is Outcome.ACCEPTED


async def test_bad_crc_nack_names_the_type_byte(gateway: Gateway, pile: ScriptedPile) -> None:
    """§2.6: nacked_type of a BAD_CRC NACK is the (unverified) type byte, never 0."""
    frame = bytearray(encode(Login(PILE_ID, "A", "B", "C", 1, 2, 0), 78))
    frame[6] = 0x7E  # a type byte nobody defined, and the CRC no longer matches
    pile.send_raw(bytes(frame))
    nack = (await pile.expect(MsgType.NACK, seq=78)).message
    assert (nack.nacked_type, nack.reason) == (0x7E, NackReason.BAD_CRC)


async def test_a_pile_registered_with_16_digits_logs_in(gateway: Gateway) -> None:
    """§3.2: registration pads like LOGIN does; before, the pile was refused UNKNOWN_PILE."""
    await gateway.storage.register_pile("4403060003000021", gun_count=1)
    pile = ScriptedPile("4403060003000021")
    try:
        ack = await pile.login(gateway.tcp_port)
        assert ack.message.result == Result.OK
        assert "00004403060003000021" in gateway.piles
    finally:
        await pile.close()


def test_login_sends_later_tariffs_only_when_they_will_take_over() -> None:
    from billing.tariff import PeriodKind, PeriodPrice, ScopeKind, Segment, Tariff
    from gateway.tariffs import login_tariffs

    def flat(tariff_id: str, kind: ScopeKind, since: int) -> Tariff:
        prices = dict.fromkeys(PeriodKind, PeriodPrice(10_000, 0))
        return Tariff(tariff_id, kind, "x", since, prices, (Segment(0, PeriodKind.FLAT),))

    station_now = flat("st-now", ScopeKind.STATION, 0)
    tariffs = [
        station_now,
        flat("st-later", ScopeKind.STATION, 2_000),
        flat("pile-later", ScopeKind.PILE, 3_000),
        flat("default-later", ScopeKind.DEFAULT, 1_000),  # the station's wins: not sent
    ]
    sent = [m.effective_from_ms for m in login_tariffs(tariffs, station_now, 500)]
    assert sent == [0, 2_000, 3_000]  # st-now, st-later, pile-later


async def test_a_configuration_command_left_unanswered_is_sent_again(gateway: Gateway) -> None:
    """A busy pile that misses SET_TARIFF's deadline gets it again, not at its next login."""
    pile = ScriptedPile()
    unanswered: list[int] = []

    def ack(frame: Frame) -> int | None:
        if frame.message.TYPE == MsgType.SET_TARIFF and not unanswered:
            unanswered.append(frame.seq)
            return None  # the first one goes unanswered
        return Result.OK

    pile.auto_ack = ack
    try:
        await pile.login(gateway.tcp_port)
        sent = pile.of_type(MsgType.SET_TARIFF)
        assert len(sent) == 2 and sent[0].seq == unanswered[0] != sent[1].seq
        assert sent[0].message == sent[1].message
        assert [t for t in configuration(pile) if t != MsgType.TIME_SYNC] == [
            MsgType.ENABLE, MsgType.SET_TARIFF, MsgType.SET_TARIFF, MsgType.SET_IDLE_FEE,
        ]  # fmt: skip
    finally:
        await pile.close()
