"""Random and Optuna searches: seeded, so the same grid file runs the same points."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sweep_kit import write_config, write_grid

from atrium.runtime.sweep.run import SweepOptions, run_sweep

GRID = """\
[params]
"strategies.ema.params.fast" = [3, 5, 8, 10]
"strategies.ema.params.slow" = {{ start = 20, stop = 40, step = 10 }}

[search]
method = "{method}"
trials = 3
seed = 7
batch = 2
"""


def _chosen(out: Path) -> list[tuple[str, str]]:
    with (out / "results.csv").open(newline="") as handle:
        return [
            (row["strategies.ema.params.fast"], row["strategies.ema.params.slow"])
            for row in csv.DictReader(handle)
        ]


def test_random_search_draws_trials_points_with_its_seed(tmp_path: Path) -> None:
    config, grid = write_config(tmp_path), write_grid(tmp_path, GRID.format(method="random"))
    run_sweep(SweepOptions(config, grid, tmp_path / "a", workers=2))
    # random.Random(7).sample(range(12), 3) is [5, 2, 6] of the 12 combinations, fast slowest.
    assert _chosen(tmp_path / "a") == [("5", "40"), ("3", "40"), ("8", "20")]
    report = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert (report["method"], report["seed"], report["points"]) == ("random", 7, 3)


def test_optuna_search_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    config, grid = write_config(tmp_path), write_grid(tmp_path, GRID.format(method="optuna"))
    run_sweep(SweepOptions(config, grid, tmp_path / "a", workers=2))
    run_sweep(SweepOptions(config, grid, tmp_path / "b", workers=1))
    first = (tmp_path / "a" / "results.csv").read_bytes()
    assert first == (tmp_path / "b" / "results.csv").read_bytes()
    with (tmp_path / "a" / "results.csv").open(newline="") as handle:
        assert [row["trial"] for row in csv.DictReader(handle)] == ["0", "1", "2"]
    assert json.loads((tmp_path / "a" / "sweep.json").read_text())["seed"] == 7
