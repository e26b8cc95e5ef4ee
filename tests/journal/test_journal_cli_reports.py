"""``atrium journal export --reports``: the replay's reports rebuilt from its journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atrium.runtime.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.toml"
#: What only a running replay knows: null when rebuilt from a journal.
RUN_ONLY = {"rejected_records", "dead_letters", "wall_seconds", "bars_per_second"}


def _replay(out: Path, *extra: str) -> None:
    args = ["replay", "--config", str(EXAMPLE), "--out", str(out), "--no-progress", *extra]
    assert main(args) == 0


def test_export_reports_when_market_data_recorded_then_same_files_as_the_replay(
    tmp_path: Path,
) -> None:
    run, rebuilt = tmp_path / "run", tmp_path / "rebuilt"
    _replay(run, "--record-market-data")
    journal = run / "journal.sqlite"

    status = main(
        ["journal", "export", str(journal), "--reports", str(rebuilt), "--config", str(EXAMPLE)]
    )

    assert status == 0
    for name in ("trades.csv", "equity.csv"):
        assert (rebuilt / name).read_bytes() == (run / name).read_bytes()
    original = json.loads((run / "summary.json").read_text())
    summary = json.loads((rebuilt / "summary.json").read_text())
    assert {key: summary[key] for key in RUN_ONLY} == dict.fromkeys(RUN_ONLY)
    assert {k: v for k, v in summary.items() if k not in RUN_ONLY} == {
        k: v for k, v in original.items() if k not in RUN_ONLY
    }
    assert summary["bars"] == 4012
    assert "<svg" in (rebuilt / "report.html").read_text()


def test_export_reports_when_no_config_then_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["journal", "export", str(tmp_path / "j.sqlite"), "--reports", str(tmp_path)])

    assert status == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("journal export --reports needs --config FILE (the run's config)")
    )


def test_export_reports_when_market_data_referenced_then_one_line_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run, rebuilt = tmp_path / "run", tmp_path / "rebuilt"
    _replay(run)
    capsys.readouterr()

    journal = run / "journal.sqlite"
    status = main(
        ["journal", "export", str(journal), "--reports", str(rebuilt), "--config", str(EXAMPLE)]
    )

    assert status == 1
    err = capsys.readouterr().err
    assert "its market data is referenced, not recorded in it" in err
    assert "Traceback" not in err
    assert list(rebuilt.iterdir()) == []
