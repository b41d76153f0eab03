"""What `make demo` shows (issue 15): a flagged bill with both sides' figures, the alarms with
the stopped rogue charge, and the web console's address."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from gateway import demo

BILL = SimpleNamespace(
    id="b1", pile_id="44030600030000000004", gun=1, anomaly_codes="6,10",
    energy_dwh=100_000, our_energy_dwh=100_000, energy_amount_fen=880, our_energy_amount_fen=880,
    service_amount_fen=800, our_service_amount_fen=800, idle_fee_fen=24_000, our_idle_fee_fen=0,
    total_amount_fen=25_680, our_total_fen=1_680, idle_billable_minutes=0, idle_capped=False,
    idle_waived="start failed", charge_end_ms=1_000_000, service_end_ms=16_000_000,
)  # fmt: skip


def test_a_flagged_bill_shows_the_piles_figures_beside_pilegates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo._print_flagged([BILL])
    out = capsys.readouterr().out
    assert "the pile says" in out and "pilegate computed" in out
    assert "idle_duration" in out and "256.80" in out and "16.80" in out
    assert "pilegate bills show b1" in out
    assert "4 h 10 min" in out and "start failed" in out


def test_alarms_name_the_stopped_rogue_charge(capsys: pytest.CaptureFixture[str]) -> None:
    alarm = SimpleNamespace(pile_id="44030600030000000003", kind="alarm:charging_without_session",
                            reason="gun 1: gun charging; no session")  # fmt: skip
    demo._print_alarms([alarm, alarm])
    out = capsys.readouterr().out
    assert "charging_without_session" in out and "(x2)" in out and "sent STOP" in out


class _Gateway:
    def __init__(self) -> None:
        self.piles: dict = {}
        self.storage = SimpleNamespace(reader=None)


async def test_the_demo_serves_the_web_console_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "ADMIN_PORT", 0)  # any free port in a test
    admin = await demo._start_admin(_Gateway())  # type: ignore[arg-type]
    assert admin is not None
    try:
        assert admin.url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            page = await client.get(f"{admin.url}/console/", follow_redirects=True)
        assert page.status_code == 200
    finally:
        await admin.stop()


def _bill_row(pile_id: str) -> SimpleNamespace:
    return SimpleNamespace(
        pile_id=pile_id, gun=1, channel="card", account="13800000001", charge_start_ms=0,
        charge_end_ms=1_800_000, energy_dwh=200_000, total_amount_fen=2_000, our_total_fen=2_000,
        our_idle_fee_fen=0, anomaly_codes="",
    )  # fmt: skip


def test_each_dialects_piles_are_registered_by_the_id_they_log_in_with() -> None:
    runs = {r.protocol: r for r in demo._dialect_runs(4)}
    assert set(runs) == {"pilegate", "ocpp16", "ykc"}
    assert runs["pilegate"].pile_ids()[0] == "44030600030000000001"
    assert runs["ocpp16"].pile_ids() == ["44030600030000000101", "44030600030000000102"]
    assert runs["ykc"].pile_ids() == ["00030000000201", "00030000000202"]
    every = [p for r in runs.values() for p in r.pile_ids()]
    assert len(every) == len(set(every))


def test_the_bills_table_names_each_piles_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    runs = demo._dialect_runs(1)
    dialect_of = {p: r.label for r in runs for p in r.pile_ids()}
    demo._print_bills([_bill_row(r.pile_ids()[0]) for r in runs], dialect_of)
    out = capsys.readouterr().out
    assert "dialect" in out and "v1" in out and "OCPP 1.6J" in out and "YKC" in out


def test_a_dialect_whose_piles_bill_nothing_fails_the_demo(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = demo._dialect_runs(1)
    summaries = [{"sessions_started": 2, "bills_sent": 1, "bills_acked": 1}] * len(runs)
    rows = [_bill_row(r.pile_ids()[0]) for r in runs if r.protocol != "ocpp16"]
    silent = demo._print_dialect_summaries(runs, summaries, rows)
    out = capsys.readouterr().out
    assert silent == ["OCPP 1.6J"]
    assert "no bill from the OCPP 1.6J piles" in out
    assert "YKC:" in out and "1 stored by pilegate" in out
    every = [_bill_row(r.pile_ids()[0]) for r in runs]
    assert demo._print_dialect_summaries(runs, summaries, every) == []
