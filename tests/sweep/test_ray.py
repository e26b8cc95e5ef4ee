"""The Ray engine gives the local engine's results.csv, byte for byte."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from sweep_kit import GRID_2X2, write_config, write_grid

from atrium.runtime.sweep.run import SweepOptions, run_sweep

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'atrium-trading[ray]')")


@pytest.mark.timeout(180)
def test_a_2x2_grid_on_local_ray_matches_local_processes(tmp_path: Path) -> None:
    config, grid = write_config(tmp_path), write_grid(tmp_path, GRID_2X2)
    run_sweep(SweepOptions(config, grid, tmp_path / "local", workers=2))
    local = (tmp_path / "local" / "results.csv").read_bytes()
    assert local.count(b"\n") == 5 and b"failed" not in local
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for ship_feeds in (False, True):  # the feed read where it lies, then shipped
            out = tmp_path / f"ray-{ship_feeds}"
            options = SweepOptions(config, grid, out, address="local", ship_feeds=ship_feeds)
            report = run_sweep(options)
            assert report["points"] == 4 and report["failed"] == 0
            assert (out / "results.csv").read_bytes() == local
    finally:
        ray.shutdown()
    shipped = Path(tempfile.gettempdir()) / "atrium-feeds"
    assert [path.name for path in shipped.glob("*/nvda-1999-2014.txt")] == ["nvda-1999-2014.txt"]
