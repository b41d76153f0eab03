"""The seam between the gateway core and a dialect (gateway/dialect.py): a pile that speaks no
v1 at all is served by the core through a `PileLink` and the `PilePort` it gets at login, and
the v1 adapter's tables cover the whole neutral vocabulary."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from billing.ack import bill_ack
from billing.anomalies import Finding, FindingKind
from billing.records import PileBill
from gateway.adapters.pilegate import outbound
from gateway.adapters.pilegate.codes import (
    BILL_ACK_STATUS,
    LOGIN_RESULT_CODE,
    channel_code,
    channel_name,
)
from gateway.app import Gateway
from gateway.bills import verdict_status
from gateway.commands import Outcome
from gateway.dialect import (
    CHANNELS,
    NOT_SUPPORTED,
    BillStatus,
    Command,
    GunReport,
    LoginRefusal,
    PileLogin,
    QueryBills,
    Reboot,
    Reply,
    SetAvailability,
    SetIdleFee,
    SetTariff,
    StartService,
    check_channel,
)
from gateway.runtime import PileRuntime
from protocol.pilegate import MsgType
from sessions import GunStatus, Phase, StartConfirmed, StopConfirmed
from tests.gateway.conftest import ACCOUNT, CARD
from tests.gateway.piles import PILE_ID, ScriptedPile

T0 = 1_735_700_400_000


@dataclass
class FakeLink:
    """A dialect's link as the core sees it: every command recorded and accepted, except the
    ones the dialect cannot express."""

    unsupported: tuple[type, ...] = ()
    sent: list[Command] = field(default_factory=list)
    closed: bool = False
    close_reason: str = ""
    dialect: str = "fake"

    def supports(self, command: type[Command]) -> bool:
        return not issubclass(command, self.unsupported)

    async def command(self, command: Command, timeout_s: float) -> Reply | None:
        if not self.supports(type(command)):
            return NOT_SUPPORTED
        self.sent.append(command)
        return Reply(True, "Accepted")

    def close(self, reason: str) -> None:
        self.closed, self.close_reason = True, reason


async def log_in(gateway: Gateway, link: FakeLink) -> PileRuntime:
    login = PileLogin(PILE_ID, 2, vendor="ACME", model="DC120", peer="fake:1")
    pile = await gateway.login(link, login)
    assert isinstance(pile, PileRuntime)
    pile.connected(link, login)
    await gateway.background_done()  # the login configuration
    return pile


def bill(tx: str, energy: int = 100_000) -> PileBill:
    return PileBill(
        tx, 1, "card", ACCOUNT, T0 - 30_000, T0, T0 + 600_000, T0 + 660_000,
        1_000_000, 1_000_000 + energy, energy, 0, 0, energy, 0, 742, 800, 0, 1542, 2, None,
    )  # fmt: skip


async def test_a_pile_of_another_dialect_charges_and_bills_through_the_seam(
    gateway: Gateway,
) -> None:
    link = FakeLink()
    pile = await log_in(gateway, link)
    configured = [type(c) for c in link.sent]
    assert configured[0] is SetAvailability and SetTariff in configured
    assert configured[-1] is SetIdleFee

    pile.reports(
        [GunReport(1, GunStatus.AVAILABLE, meter_dwh=1_000_000), GunReport(2, GunStatus.AVAILABLE)]
    )
    granted = await pile.authorise(1, "card", CARD, "")
    assert granted.refusal is None and granted.account == ACCOUNT
    tx = granted.transaction_id
    assert tx is not None
    refused = await pile.authorise(2, "card", CARD, "")  # one account, one service
    assert refused.transaction_id is None and refused.refusal is not None
    assert refused.refusal.value == "account_busy"

    assert pile.feed(1, StartConfirmed(tx, 1_000_000))
    pile.meter(1, tx, T0 + 300_000, 1_050_000, 7_000, None)
    pile.reports([GunReport(1, GunStatus.CHARGING, meter_dwh=1_050_000, power_w=7_000)])
    assert pile.guns[1].session is not None and pile.guns[1].session.phase is Phase.CHARGING
    assert pile.feed(1, StopConfirmed(1_100_000, tx))
    pile.service_ended(1, T0 + 660_000)
    pile.service_ended(2, T0)  # no session there: nothing happens, nothing raised

    first = await pile.bill(bill(tx))
    assert first is not None and first.status in (BillStatus.ACCEPTED, BillStatus.FLAGGED)
    again = await pile.bill(bill(tx))
    assert again is not None and again.status is BillStatus.DUPLICATE
    assert again.bill_id == first.bill_id

    result = await gateway.query_bills(PILE_ID, 1)
    assert result.outcome is Outcome.ACCEPTED and link.sent[-1] == QueryBills(1)


async def test_a_command_the_dialect_cannot_express_is_refused_by_name(gateway: Gateway) -> None:
    link = FakeLink(unsupported=(SetIdleFee,))
    pile = await log_in(gateway, link)
    assert not any(isinstance(c, SetIdleFee) for c in link.sent)  # not at login either
    rule = await gateway.storage.idle_rule_for(PILE_ID)
    result = await pile.simple(SetIdleFee(rule))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, NOT_SUPPORTED.status)


async def test_a_replaced_link_going_away_leaves_the_pile_online(gateway: Gateway) -> None:
    old, new = FakeLink(), FakeLink()
    pile = await log_in(gateway, old)
    assert await log_in(gateway, new) is pile
    assert old.closed and "replaced" in old.close_reason
    pile.disconnected(old, "closed by the pile")
    assert pile.online and pile.connection is new
    pile.disconnected(new, "closed by the pile")
    assert not pile.online


async def test_an_unsigned_login_never_replaces_a_signed_link(gateway: Gateway) -> None:
    signed = FakeLink()
    login = PileLogin(PILE_ID, 2, authenticated=True)
    pile = await gateway.login(signed, login)
    assert isinstance(pile, PileRuntime)
    pile.connected(signed, login)
    refused = await gateway.login(FakeLink(), PileLogin(PILE_ID, 2))
    assert not isinstance(refused, PileRuntime)
    assert refused.refusal is LoginRefusal.AUTH_FAILED and not signed.closed
    await gateway.background_done()


async def test_v1_has_no_reboot_and_sends_nothing_for_it(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await pile.heartbeat()
    before = len(pile.received)
    result = await gateway.piles[PILE_ID].simple(Reboot())
    assert (result.outcome, result.reason) == (Outcome.REJECTED, NOT_SUPPORTED.status)
    await asyncio.sleep(0.05)
    assert pile.received[before:] == [] and not outbound.supports(Reboot)


async def test_v1_start_goes_out_with_the_channels_code(
    gateway: Gateway, pile: ScriptedPile
) -> None:
    await pile.heartbeat()
    result = await gateway.start_charge(PILE_ID, 1, ACCOUNT, "card")
    assert result.outcome is Outcome.ACCEPTED
    start = pile.of_type(MsgType.START_CHARGE)[0].message
    assert channel_name(start.channel) == "card" and start.balance_fen == 50_000


# --- the v1 adapter's tables are total over the neutral vocabulary -------------------------------


def test_every_channel_has_a_v1_code_and_back() -> None:
    for name in CHANNELS:
        assert channel_name(channel_code(check_channel(name))) == name
    with pytest.raises(ValueError, match="unknown channel"):
        check_channel("carrier_pigeon")


def test_every_login_refusal_and_bill_status_has_a_v1_code() -> None:
    assert set(LOGIN_RESULT_CODE) == set(LoginRefusal)
    assert set(BILL_ACK_STATUS) == set(BillStatus)
    assert len(set(BILL_ACK_STATUS.values())) == len(BillStatus)


def test_every_command_but_reboot_is_expressible_in_v1() -> None:
    start = StartService(1, "T" * 32, ACCOUNT, "vin", 100)
    assert outbound.message_of(start) is not None
    assert outbound.message_of(Reboot()) is None


@pytest.mark.parametrize("duplicate", [False, True])
@pytest.mark.parametrize(
    "findings", [[], [Finding(FindingKind.AMOUNT_MISMATCH, "pile 1542, ours 1500")]]
)
@pytest.mark.parametrize("flags", [[], ["overlap"]])
def test_the_verdict_is_the_one_billing_acks_with(
    duplicate: bool, findings: list[Finding], flags: list[str]
) -> None:
    status, mask = bill_ack(duplicate, findings, flags)
    assert BILL_ACK_STATUS[verdict_status(duplicate, mask)] == status
