"""Walk-forward on NVDA daily: the windows, and no test bar in a training replay."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from sweep_kit import write_config, write_grid

from atrium.config.sweep import WalkForwardConfig
from atrium.runtime.sweep.run import SweepOptions, run_sweep
from atrium.runtime.sweep.walk import shift, windows

GRID = """\
[params]
"strategies.ema.params.fast" = [5, 10]
"strategies.ema.params.slow" = [20, 30]

[walk_forward]
train = "2y"
test = "1y"
start = "2004-01-01"
end = "2008-01-01"
"""


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_windows_step_by_the_test_period_and_stop_at_the_end() -> None:
    config = WalkForwardConfig(train="3y", test="1y", step="6m")
    start, end = datetime(1999, 1, 22, tzinfo=UTC), datetime(2003, 1, 1, tzinfo=UTC)
    assert windows(start, end, config) == []  # 3y + 1y from 1999-01-22 needs until 2003-01-22
    found = windows(start, datetime(2003, 8, 1, tzinfo=UTC), config)
    assert [w.test_start.date().isoformat() for w in found] == ["2002-01-22", "2002-07-22"]
    assert shift(datetime(2004, 2, 29, tzinfo=UTC), "1y", "k").date().isoformat() == "2005-02-28"
    assert shift(datetime(2004, 1, 31, tzinfo=UTC), "1m", "k").date().isoformat() == "2004-02-29"


def test_walk_forward_chooses_on_training_bars_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_sweep(
        SweepOptions(write_config(tmp_path), write_grid(tmp_path, GRID), out, workers=2)
    )
    assert report["windows"] == 2 and report["failed"] == 0 and report["points"] == 10
    chosen = _rows(out / "walk_forward.csv")
    assert [(w["train_start"], w["test_start"], w["test_end"]) for w in chosen] == [
        ("2004-01-01T00:00:00Z", "2006-01-01T00:00:00Z", "2007-01-01T00:00:00Z"),
        ("2005-01-01T00:00:00Z", "2007-01-01T00:00:00Z", "2008-01-01T00:00:00Z"),
    ]
    points = _rows(out / "results.csv")
    for window in chosen:
        trained = [p for p in points if p["phase"] == "train" and p["window"] == window["window"]]
        assert len(trained) == 4
        for point in trained:  # every bar a training replay saw lies before the test window
            assert window["train_start"] <= point["first_timestamp"]
            assert point["last_timestamp"] < window["test_start"]
            assert point["bars"] in ("504", "503")  # two years of trading days
        best = max(trained, key=lambda p: float(p["sharpe"]))
        assert window["train_point"] == best["point"]
        (test,) = [p for p in points if p["phase"] == "test" and p["window"] == window["window"]]
        assert window["test_point"] == test["point"]
        assert (
            window["test_start"] <= test["first_timestamp"]
            and test["last_timestamp"] < window["test_end"]
        )
        params = json.loads(window["params"])
        assert (
            int(test["strategies.ema.params.fast"]),
            int(test["strategies.ema.params.slow"]),
        ) == (
            params["strategies.ema.params.fast"],
            params["strategies.ema.params.slow"],
        )
    curve = _rows(out / "oos_equity.csv")
    assert (curve[0]["time"], curve[-1]["time"]) == ("2006-01-03T00:00:00Z", "2007-12-31T00:00:00Z")
    stitched = json.loads((out / "walk_forward.json").read_text())["out_of_sample_stitched"]
    assert abs(float(curve[-1]["equity"]) / 100_000 - 1 - stitched["total_return"]) < 1e-6
    assert "Stitched out-of-sample equity" in (out / "sweep.html").read_text()
