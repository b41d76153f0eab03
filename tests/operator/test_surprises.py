"""What surprised a new operator (issue 15): each case as the operator meets it."""

from __future__ import annotations

import contextlib
import io
import json

from gateway.cli import main


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:
            status = int(exc.code or 0)
    return status, out.getvalue(), err.getvalue()


PILE = "44030600039999900077"


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
