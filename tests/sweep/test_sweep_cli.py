"""``atrium sweep`` on the command line: exit statuses and one log line per point."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_kit import GRID_2X2, write_config, write_grid

from atrium.runtime.cli import main


def test_a_bad_grid_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = write_grid(tmp_path, '[params]\n"strategies.ema.params.fast" = 5\n')
    assert main(["sweep", "--config", str(write_config(tmp_path)), "--grid", str(grid)]) == 2
    assert "params.strategies.ema.params.fast: expected a list of values" in capsys.readouterr().err


def test_sweep_logs_one_line_per_point_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, grid = write_config(tmp_path), write_grid(tmp_path, GRID_2X2)
    argv = ["sweep", "--config", str(config), "--grid", str(grid), "--out", str(tmp_path / "o")]
    assert main([*argv, "--workers", "2"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("sweep: point ")]
    assert len(lines) == 4 and all(" ok in " in line for line in lines)
    assert "sweep: 4 points, 0 failed" in captured.out
    assert main(argv) == 0  # resumed: every point found finished
    assert capsys.readouterr().err.count("ok in resumed") == 4
