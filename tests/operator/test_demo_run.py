"""The demo end to end, shortened: the gateway and one `pilegate-sim run` per dialect. It fails
when the piles of any dialect (protocol v1, OCPP 1.6J, YKC) get no bill stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import demo


@pytest.mark.slow
def test_every_dialects_piles_bill_in_a_short_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "DEMO_DIR", tmp_path / "demo")
    monkeypatch.setattr(demo, "DEMO_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo' / 'db.sqlite3'}")
    monkeypatch.setattr(demo, "ADMIN_PORT", 0)
    # Ten pile-minutes a wall second: a service is over in a few seconds.
    monkeypatch.setattr(demo, "TIME_SCALE", 600.0)
    code = demo.main_job(piles=4, seconds=12)
    out = capsys.readouterr().out
    for label in ("v1:", "OCPP 1.6J:", "YKC:"):
        line = next(x for x in out.splitlines() if x.startswith(label))
        assert " 0 stored by pilegate" not in line, out
    assert "no bill from the" not in out, out
    assert code == 0, out
