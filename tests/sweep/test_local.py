"""The local engine: a 2x2 grid in two processes, a killed worker, resume."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
from sweep_kit import GRID_2X2, write_config, write_grid

from atrium.runtime.sweep.run import SweepOptions, run_sweep


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_2x2_grid_writes_one_row_per_point_and_resumes(tmp_path: Path) -> None:
    config, grid = write_config(tmp_path), write_grid(tmp_path, GRID_2X2)
    out = tmp_path / "out"
    report = run_sweep(SweepOptions(config, grid, out, workers=2))
    rows = _rows(out / "results.csv")
    assert [(r["strategies.ema.params.fast"], r["strategies.ema.params.slow"]) for r in rows] == [
        ("5", "20"),
        ("5", "30"),
        ("10", "20"),
        ("10", "30"),
    ]
    assert {r["status"] for r in rows} == {"ok"}
    assert [r["orders"] for r in rows] == ["23", "21", "15", "17"]
    assert {r["bars"] for r in rows} == {"504"}  # 2004 and 2005 only
    assert "wall_seconds" not in rows[0]  # machine figures live in timings.csv
    assert report["best"]["params"] == {
        "strategies.ema.params.fast": 5,
        "strategies.ema.params.slow": 20,
    }
    table = pq.read_table(out / "results.parquet").to_pydict()
    assert table["orders"] == [23.0, 21.0, 15.0, 17.0]
    for row in rows:
        assert (out / "points" / row["point"] / "trades.csv").exists()
    first = (out / "results.csv").read_bytes()
    run_sweep(SweepOptions(config, grid, out, workers=2))
    assert (out / "results.csv").read_bytes() == first
    assert [r["resumed"] for r in _rows(out / "timings.csv")] == ["yes"] * 4
    assert "Heatmap" in (out / "sweep.html").read_text()


def test_a_killed_worker_is_recorded_and_the_others_finish(tmp_path: Path) -> None:
    config = write_config(tmp_path, cls="dying:Dying")  # SIGKILLs itself at fast=5, slow=30
    grid = write_grid(tmp_path, GRID_2X2 + '"strategies.ema.params.quantity" = [100]\n')
    out = tmp_path / "out"
    report = run_sweep(SweepOptions(config, grid, out, workers=2))
    rows = {
        (r["strategies.ema.params.fast"], r["strategies.ema.params.slow"]): r
        for r in _rows(out / "results.csv")
    }
    assert rows["5", "30"]["status"] == "failed"
    assert rows["5", "30"]["error"] == "worker killed by SIGKILL"
    assert [rows[k]["status"] for k in [("5", "20"), ("10", "20"), ("10", "30")]] == ["ok"] * 3
    assert report["failed"] == 1
    assert not list((out / "points").glob(".*partial*"))  # the dead run's staging is gone


def test_a_point_whose_run_fails_is_recorded_with_its_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    grid = write_grid(tmp_path, '[params]\n"strategies.ema.params.fast" = [5, 40]\n')
    out = tmp_path / "out"
    run_sweep(SweepOptions(config, grid, out, workers=1))
    rows = _rows(out / "results.csv")
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "fast: must be < slow, got fast=40, slow=30" in rows[1]["error"]
