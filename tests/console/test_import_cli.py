"""`pilegate piles import FILE` and `pilegate accounts import FILE` on a fresh database."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

from gateway.cli import main
from gateway.storage import Storage
from tests.db import fresh_database

P1, P2, P3, P4 = (f"0000440306000300{n}" for n in ("3001", "3002", "3003", "3004"))


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


async def test_import_piles_and_accounts_from_files(tmp_path: Path) -> None:
    path = tmp_path
    async with fresh_database("sqlite") as url:
        piles = path / "piles.csv"
        piles.write_text(f"pile_id,station_id,station_name,guns\n{P1},S1,One,2\n{P2[4:]},S1,,1\n")
        status, out, _ = await asyncio.to_thread(
            cli, "piles", "import", str(piles), "--database", url, "--format", "json"
        )
        assert status == 0 and json.loads(out)[0]["created"] == 2

        accounts = path / "accounts.json"
        accounts.write_text(json.dumps([{"account": "b1", "balance_fen": 900, "card": "C1"}]))
        status, out, _ = await asyncio.to_thread(
            cli, "accounts", "import", str(accounts), "--database", url, "--format", "json"
        )
        assert status == 0 and json.loads(out)[0]["created"] == 1

        bad = path / "bad.csv"
        bad.write_text(f"pile_id,guns\n{P3},2\n{P4},999\n3005,1\n")
        status, _, err = await asyncio.to_thread(
            cli, "piles", "import", str(bad), "--database", url
        )
        assert status == 1 and "row 2" in err and "nothing imported" in err
        assert "row 3" in err and "16 or 20 decimal digits" in err  # not a pile id

        async with await Storage.open(url) as storage:
            assert (await storage.get_pile(P1)).station_id == "S1"  # type: ignore[union-attr]
            assert await storage.get_pile(P2) is not None  # 16 digits: kept as 20
            assert await storage.get_pile(P3) is None
            found = await storage.find_account("card", "C1")
            assert found is not None and found.balance_fen == 900
