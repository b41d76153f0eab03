"""What surprised a new operator (issue 15): each case as the operator meets it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import cli_operator, reports
from gateway.cli import build_parser, main
from gateway.config import ConfigError, load_config
from gateway.storage import Storage
from gateway.storage.engine import resolve_url
from tests.billing.fixtures import TARIFF
from tests.storage.support import RECEIVED, bill, settled


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


PILE = "44030600039999900077"
P_BILL = "44030600039999900078"


def test_piles_add_on_a_known_pile_updates_only_what_is_given(sqlite_url: str) -> None:
    db = ("--database", sqlite_url)
    status, out, _ = cli("piles", "add", PILE, "--station", "S7", "--guns", "2", *db)
    assert status == 0 and "added" in out and "S7" in out
    status, out, _ = cli("piles", "add", PILE, "--disabled", *db, "--format", "json")
    assert status == 0
    assert json.loads(out)[0] == {"pile_id": PILE, "station_id": "S7", "gun_count": 2,
                                  "enabled": False, "result": "updated"}  # fmt: skip
    status, out, _ = cli("piles", "add", PILE, *db)
    assert status == 0 and "updated" in out and "station S7" in out and "disabled" in out


def _stored_bill(url: str, **changes: object) -> str:
    async def store() -> str:
        storage = await Storage.open(url)
        try:
            await storage.put_tariff(TARIFF)
            b = bill(**changes)
            stored = await storage.store_bill(P_BILL, b, settled(b), received_ms=RECEIVED)
            return stored.bill_id
        finally:
            await storage.close()

    return asyncio.run(store())


def test_a_database_side_command_says_which_database_it_reads(sqlite_url: str) -> None:
    status, out, err = cli("bills", "--database", sqlite_url)
    assert status == 0 and err.startswith("pilegate: database sqlite+aiosqlite:///")
    assert sqlite_url.rsplit("/", 1)[-1] in err and "pilegate: database" not in out


def test_bills_show_prints_durations_as_durations(sqlite_url: str) -> None:
    bill_id = _stored_bill(sqlite_url)
    status, out, _ = cli("bills", "show", bill_id, "--database", sqlite_url)
    assert status == 0
    print(out)
    fields = dict(line.split(None, 1) for line in out.splitlines()[2:] if " " in line.strip())
    assert not fields["idle_ms"].startswith("1970"), fields["idle_ms"]
    assert "1970" not in out


def test_a_tariff_effective_since_ever_reads_always() -> None:
    out = io.StringIO()
    reports.render([{"tariff_id": "t", "effective_from_ms": 0}], None, "table", out)
    assert "always" in out.getvalue() and "1970" not in out.getvalue()


LIVE = [
    {"pile_id": PILE, "gun": 1, "transaction_id": "0193a1b2c3d4e5f6a7b8c9d0e1f2a3b4",
     "phase": "charging", "account": "A", "since_ms": 1},
    {"pile_id": P_BILL, "gun": 1, "transaction_id": "0193a1b2c3d4e5f6a7b8c9d0e1f2ffff",
     "phase": "charging", "account": "B", "since_ms": 1},
]  # fmt: skip


def test_live_sessions_honour_pile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_operator, "request", lambda *a, **k: LIVE)
    status, out, _ = cli("sessions", "--live", "--pile", PILE, "--format", "json")
    assert status == 0 and [r["pile_id"] for r in json.loads(out)] == [PILE]


def test_piles_show_whole_session_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    piles = [{"pile_id": PILE, "guns": {"1": {"availability": "busy", "session": LIVE[0]}}}]
    monkeypatch.setattr(cli_operator, "request", lambda *a, **k: piles)
    status, out, _ = cli("piles", "--format", "csv")
    assert status == 0 and LIVE[0]["transaction_id"] in out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_postgresql_is_one_line_with_the_password_hidden() -> None:
    url = f"postgresql://pilegate:s3cret@127.0.0.1:{_closed_port()}/pilegate"
    status, out, err = cli("bills", "--database", url)
    assert status == 1 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert "s3cret" not in err and "***" in err and "127.0.0.1" in err and "refused" in err


def test_missing_database_is_one_line(postgres_url: str) -> None:
    url = postgres_url.replace("postgresql+asyncpg://", "postgres://").rsplit("/", 1)[0]
    status, _, err = cli("bills", "--database", url + "/pilegate_no_such_db")
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "pilegate_no_such_db" in err and "does not exist" in err


def test_serve_with_unreachable_postgresql_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PILEGATE_DATABASE_URL", f"postgres://u:pw@127.0.0.1:{_closed_port()}/x")
    for name in ("PILEGATE_TCP_PORT", "PILEGATE_WS_PORT", "PILEGATE_ADMIN_PORT"):
        monkeypatch.setenv(name, "0")
    status = main(["serve"])
    err = capfd.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "cannot open the database" in line]


def test_usual_postgresql_spellings_are_accepted() -> None:
    for scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        config = load_config(environ={"PILEGATE_DATABASE_URL": f"{scheme}://u@h/db"})
        assert resolve_url(config.database.url).startswith("postgresql+asyncpg://u@h/db")
    with pytest.raises(ConfigError, match="must start with one of"):
        load_config(environ={"PILEGATE_DATABASE_URL": "mysql://u@h/db"})


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_option_has_help_and_a_readable_metavar() -> None:
    from simulators.cli import build_parser as sim_parser

    missing, leaks = [], []
    for parser, prog in ((build_parser(), "pilegate"), (sim_parser(), "pilegate-sim")):
        for path, action in _walk(parser, prog):
            name = "/".join(action.option_strings) or action.dest
            if not action.help:
                missing.append(f"{path} {name}")
            if action.option_strings and action.nargs != 0:
                shown = action.metavar or action.dest.upper()
                if isinstance(shown, str) and shown.endswith("_"):
                    leaks.append(f"{path} {name} ({shown})")
    assert not missing, "options without help: " + ", ".join(missing)
    assert not leaks, "Python names as metavars: " + ", ".join(leaks)


def test_simulator_run_help_is_for_users() -> None:
    from simulators.cli import build_parser as sim_parser

    text = sim_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]
    assert "``" not in text and "duration*X" not in text
    assert "PILEGATE_AUTO_REGISTER" in text


def test_report_anomalies_takes_a_month(seeded: tuple[str, list[str]]) -> None:
    url, _ = seeded
    status, by_month, err = cli("report", "anomalies", "--database", url, "--month", "2020-01",
                                "--format", "csv")  # fmt: skip
    assert status == 0, err
    status, by_range, _ = cli("report", "anomalies", "--database", url, "--from", "2020-01-01",
                              "--to", "2020-01-31", "--format", "csv")  # fmt: skip
    assert by_month == by_range and "TOTAL" in by_month
    status, _, err = cli("report", "anomalies", "--database", url, "--month", "2020-13")
    assert status == 2 and "YYYY-MM" in err


def test_an_absurd_correction_is_refused_unless_forced(sqlite_url: str) -> None:
    bill_id = _stored_bill(sqlite_url)  # 10 kWh charged in one hour
    db = ("--database", sqlite_url)
    status, out, err = cli(
        "bills", "correct", bill_id, "--energy", "99999", "--reason", "typo", *db
    )
    assert status == 1 and out == ""
    assert "refused" in err and "--force" in err and "twice the bill's 10 kWh" in err
    status, out, _ = cli("bills", "correct", bill_id, "--energy", "12.5", "--reason", "meter", *db)
    assert status == 0 and "12.5000 kWh" in out
    status, out, _ = cli("bills", "correct", bill_id, "--energy", "99999", "--reason", "really",
                         "--force", *db)  # fmt: skip
    assert status == 0 and "99999.0000 kWh" in out


def _tariff_args(*extra: str) -> argparse.Namespace:
    parser = build_parser()
    return parser.parse_args(["tariff", "set", PILE, "--id", "t1", *extra])


def test_a_bad_segment_gets_a_message_not_a_repr() -> None:
    with pytest.raises(ValueError) as caught:
        cli_operator.tariff_body(_tariff_args("--price", "flat=1", "--segment", "25:00=flat"))
    assert "00:00..23:59" in str(caught.value) and "'" not in str(caught.value)
    status, _, err = cli("tariff", "set", PILE, "--id", "t1", "--price", "flat=1",
                         "--segment", "25:00=flat", "--admin", "http://127.0.0.1:9")  # fmt: skip
    assert status == 2 and "25:00=flat" in err and "23:59" in err


def test_every_period_the_day_table_uses_needs_a_price() -> None:
    args = _tariff_args("--price", "peak=1.2/0.4", "--segment", "00:00=valley",
                        "--segment", "08:00=peak")  # fmt: skip
    with pytest.raises(ValueError, match="uses valley but no --price valley"):
        cli_operator.tariff_body(args)
    with pytest.raises(ValueError, match=r"default day table \(00:00=flat\) uses flat"):
        cli_operator.tariff_body(_tariff_args("--price", "peak=1"))
    body = cli_operator.tariff_body(_tariff_args("--price", "flat=1.00/0.40"))
    assert body["prices"]["peak"] == body["prices"]["flat"] == {"energy_e4": 10_000,
                                                                "service_e4": 4_000}  # fmt: skip


def test_bench_bills_finds_postgresql_as_make_test_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make bench` on a fresh clone: no var/test-services.json yet, no environment."""
    from bench import bills as bench_bills
    from tests import services

    if services.load()["database_url"] is None:
        pytest.skip("no PostgreSQL on this machine")
    monkeypatch.setattr(services, "STATE_FILE", tmp_path / "absent.json")
    monkeypatch.delenv("PILEGATE_TEST_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "argv", ["bills.py", "--seconds", "0.2", "--levels", "2"])
    assert asyncio.run(bench_bills.main()) == 0
    assert '"bench": "bills"' in capsys.readouterr().out


def test_no_link_leaves_the_repository() -> None:
    """A user's clone has only the repository: every relative .md link resolves inside it."""
    import re

    root = Path(__file__).resolve().parents[2]
    files = [root / "README.md", *root.glob("docs/**/*.md"), *root.glob("*/**/*.py")]
    outside, broken = [], []
    for file in files:
        if ".venv" in file.parts or file == Path(__file__).resolve():
            continue
        text = file.read_text()
        if "shared/domain" in text:
            outside.append(str(file.relative_to(root)))
        if file.suffix == ".md":
            for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", text):
                if not (file.parent / target).resolve().is_file():
                    broken.append(f"{file.relative_to(root)} -> {target}")
    assert not outside and not broken, (outside, broken)
    assert "## 12. Correcting a bill" in (root / "docs" / "field-cases.md").read_text()


def test_a_correction_shows_both_refunds_is_published_and_logged(
    sqlite_url: str, tmp_path: Path
) -> None:
    from gateway.storage.schema import bills as bills_table

    bill_id = _stored_bill(sqlite_url)  # ours: 16.80 CNY for 10 kWh

    async def pile_charged_more() -> None:  # the pile's own amounts: 20.00 CNY
        storage = await Storage.open(sqlite_url)
        try:
            async with storage.engine.begin() as conn:
                q = bills_table.update().where(bills_table.c.id == bill_id)
                await conn.execute(q.values(energy_amount_fen=1200, service_amount_fen=800))
        finally:
            await storage.close()

    asyncio.run(pile_charged_more())
    config = tmp_path / "gateway.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n[mqtt]\nurl = "mqtt://127.0.0.1:1"\n')
    args = ("--refund-from", "pile", "--config", str(config), "--format", "json")
    status, out, err = cli("bills", "correct", bill_id, "--energy", "5", "--reason", "meter", *args)
    assert status == 0, err
    row = json.loads(out)[0]
    assert row["new_total_fen"] == 840
    assert (row["pile_refund_fen"], row["pilegate_refund_fen"]) == (1160, 840)
    assert row["refund_fen"] == 1160 and row["refund_from"] == "pile"
    logged = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert logged and logged[-1]["event"] == "bill_corrected"
    assert logged[-1]["bill_id"] == bill_id and logged[-1]["pile_id"] == P_BILL

    async def outbox() -> list:
        storage = await Storage.open(sqlite_url)
        try:
            return await storage.outbox_pending()
        finally:
            await storage.close()

    events = [(topic, payload) for _, topic, payload in asyncio.run(outbox())]
    corrected = [p for t, p in events if t.endswith("/bill_corrected")]
    assert len(corrected) == 1
    payload = corrected[0] if isinstance(corrected[0], dict) else json.loads(corrected[0])
    assert payload["refund_fen"] == 1160 and payload["pilegate_refund_fen"] == 840

    status, out, _ = cli("bills", "correct", bill_id, "--energy", "5", "--reason", "again",
                         "--database", sqlite_url)  # fmt: skip
    assert "refund" in out and "from the pile's amount" in out


def test_the_export_is_plain_csv_in_local_time_with_corrections(sqlite_url: str) -> None:
    import csv

    bill_id = _stored_bill(sqlite_url)
    db = ("--database", sqlite_url)
    assert cli("bills", "correct", bill_id, "--energy", "5", "--reason", "meter", *db)[0] == 0
    rng = ("--from", "2020-06-01", "--to", "2020-06-01")
    status, text, _ = cli("export", "bills", *rng, *db)
    assert status == 0
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["id"] == bill_id)
    assert row["received_ms"] == "2020-06-01T10:41:00.000+08:00"
    assert row["charge_start_ms"] == "2020-06-01T09:30:00.000+08:00"
    assert row["valid"] in ("true", "false") and row["idle_capped"] == "false"
    assert row["flags"] == "" and row["idle_ms"] == "600000"
    assert "False" not in text and "[]" not in text
    assert (row["corrected_energy_dwh"], row["corrected_total_fen"]) == ("50000", "840")
    assert row["refund_fen"] == "840" and row["corrected_at_ms"].endswith("+08:00")
    status, text, _ = cli("export", "bills", *rng, *db, "--utc-offset", "0")
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["id"] == bill_id)
    assert row["received_ms"] == "2020-06-01T02:41:00.000+00:00"
