"""``atrium sweep``: load the config and the grid, run the search, write the results.

Points whose directory already holds a summary.json are not run again (resume), so an
interrupted sweep, or one with a point added, runs only what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from atrium.config.loader import load_config_data
from atrium.config.sweep import GridConfig
from atrium.runtime.sweep.grid import Params, check_keys, load_grid
from atrium.runtime.sweep.points import Outcome, Point, make_point, read_outcome
from atrium.runtime.sweep.progress import SweepProgress
from atrium.runtime.sweep.results import write_results, write_timings
from atrium.runtime.sweep.search import ranked, search

__all__ = ("Engine", "Runner", "SweepOptions", "run_sweep")

#: Runs points into ``points_dir/<id>``, reporting each start and each outcome.
Engine = Callable[[list[Point], Path, Callable[[Point], None], Callable[[Outcome], None]], None]


@dataclass(frozen=True)
class SweepOptions:
    """What the command line says about a sweep."""

    config: Path
    grid: Path
    out_dir: Path
    workers: int | None = None
    address: str | None = None
    #: With ``address``: send each feed file to every node once instead of reading it there.
    ship_feeds: bool = False
    progress: bool = False


class Runner:
    """Runs lists of points with one engine, skipping the ones already finished."""

    def __init__(self, base: dict[str, Any], points_dir: Path, engine: Engine, bar: bool):
        self.base = base
        self.points_dir = points_dir
        self.engine = engine
        self.outcomes: dict[str, Outcome] = {}
        self.shown = SweepProgress(0, bar)

    def __enter__(self) -> Runner:
        self.shown.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shown.__exit__(None, None, None)

    def evaluate(self, params_list: list[Params]) -> list[Outcome]:
        """The outcome of each point of ``params_list``, in order (run once per id)."""
        points = [make_point(self.base, params) for params in params_list]
        unique = list({point.id: point for point in points}.values())
        self.points_dir.mkdir(parents=True, exist_ok=True)
        shown = self.shown
        shown.add(len(unique))
        to_run = []
        for point in unique:
            known = self._known(point)
            if known is None:
                to_run.append(point)
            else:
                self.outcomes[point.id] = known
                shown.finished(known)

        def done(outcome: Outcome) -> None:
            self.outcomes[outcome.point.id] = outcome
            shown.finished(outcome)

        if to_run:
            self.engine(to_run, self.points_dir, shown.started, done)
        for stale in self.points_dir.glob(".*.partial-*"):  # left by a killed worker
            shutil.rmtree(stale, ignore_errors=True)
        return [replace(self.outcomes[p.id], point=p, extra={}) for p in points]

    def _known(self, point: Point) -> Outcome | None:
        """The outcome without running: a config error, or a point finished earlier."""
        if point.error is not None:
            return Outcome(point, None, point.error, 0.0)
        if point.id in self.outcomes:
            return self.outcomes[point.id]
        if (self.points_dir / point.id / "summary.json").exists():
            return replace(read_outcome(point, self.points_dir / point.id, None, 0.0), resumed=True)
        return None


def run_sweep(options: SweepOptions) -> dict[str, Any]:
    """Run the sweep into ``options.out_dir``; returns what sweep.json says."""
    base = load_config_data(options.config)
    grid = load_grid(options.grid)
    check_keys(base, grid)
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with Runner(base, out / "points", _engine(options), options.progress) as runner:
        if grid.walk_forward is not None:
            from atrium.runtime.sweep.walk import run_walk_forward  # noqa: PLC0415

            return run_walk_forward(runner, grid, out)
        outcomes = search(grid, runner.evaluate)
    write_results(out, outcomes)
    write_timings(out, [runner.outcomes[o.point.id] for o in _unique(outcomes)])
    report = sweep_report(grid, outcomes)
    (out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    from atrium.runtime.sweep.html import write_sweep_html  # noqa: PLC0415

    write_sweep_html(out / "sweep.html", grid, outcomes, out / "points")
    return report


def sweep_report(grid: GridConfig, outcomes: list[Outcome]) -> dict[str, Any]:
    """sweep.json: the search as run (its seed included) and the best point."""
    best = ranked(outcomes, grid)
    return {
        "method": grid.search.method,
        "seed": grid.search.seed,
        "trials": grid.search.trials,
        "objective": grid.search.objective,
        "direction": grid.search.direction,
        "points": len(outcomes),
        "failed": sum(o.error is not None for o in outcomes),
        "best": None if not best else {"point": best[0].point.id, "params": _plain(best[0])},
    }


def _engine(options: SweepOptions) -> Engine:
    if options.address is not None:
        from atrium.runtime.sweep.ray_engine import ray_engine  # noqa: PLC0415 -- optional

        return ray_engine(options.address, ship_feeds=options.ship_feeds)
    from atrium.runtime.sweep.local import run_local  # noqa: PLC0415

    workers = options.workers or os.cpu_count() or 1

    def local(points: list[Point], points_dir: Path, on_start: Any, on_done: Any) -> None:
        run_local(points, points_dir, workers, on_start, on_done)

    return local


def _plain(outcome: Outcome) -> dict[str, Any]:
    """The parameters as JSON takes them (a Decimal as its text)."""
    return {
        key: json.loads(json.dumps(value, default=str))
        for key, value in outcome.point.params.items()
    }


def _unique(outcomes: list[Outcome]) -> list[Outcome]:
    """The outcomes with each point once, in the order they first appear."""
    return list({outcome.point.id: outcome for outcome in reversed(outcomes)}.values())[::-1]
