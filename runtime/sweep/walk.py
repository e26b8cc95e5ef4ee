"""Walk-forward: optimise on each training window, replay the best on the window after it.

Each window's points are replays restricted to it (``market_data.start``/``end``), so a
training point never sees a bar of its test window, and a test replay starts cold (its
indicators warm up inside the test window, never on training data). The test windows'
equity curves are chained into one out-of-sample curve: each starts from the equity the
previous one ended with.
"""

from __future__ import annotations

import calendar
import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from atrium.config.sweep import GridConfig, WalkForwardConfig, parse_duration
from atrium.runtime.errors import UsageError
from atrium.runtime.reports.stats import EquityCurve
from atrium.runtime.sweep.equity import read_equity
from atrium.runtime.sweep.grid import Params
from atrium.runtime.sweep.points import Outcome
from atrium.runtime.sweep.results import write_results, write_timings
from atrium.runtime.sweep.run import Runner
from atrium.runtime.sweep.search import objective_of, ranked, search

__all__ = ("Window", "run_walk_forward", "shift", "windows")

WINDOW_KEYS = ("market_data.start", "market_data.end")


@dataclass(frozen=True)
class Window:
    """Train on ``[train_start, test_start)``, test on ``[test_start, test_end)``."""

    index: int
    train_start: datetime
    test_start: datetime
    test_end: datetime

    def train(self) -> Params:
        return dict(zip(WINDOW_KEYS, (_iso(self.train_start), _iso(self.test_start)), strict=True))

    def test(self) -> Params:
        return dict(zip(WINDOW_KEYS, (_iso(self.test_start), _iso(self.test_end)), strict=True))


def shift(moment: datetime, text: str, key: str) -> datetime:
    """``moment`` moved on by a duration like ``3y``; a month end stays in its month."""
    count, unit = parse_duration(key, text)
    if unit in "dw":
        return moment + timedelta(days=count * (7 if unit == "w" else 1))
    months = moment.month - 1 + count * (12 if unit == "y" else 1)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def windows(start: datetime, end: datetime, config: WalkForwardConfig) -> list[Window]:
    """The windows from ``start`` whose whole test period ends by ``end``."""
    found: list[Window] = []
    begin = start
    while True:
        test_start = shift(begin, config.train, "walk_forward.train")
        test_end = shift(test_start, config.test, "walk_forward.test")
        if test_end > end:
            return found
        found.append(Window(len(found), begin, test_start, test_end))
        begin = shift(begin, config.step or config.test, "walk_forward.step")


def run_walk_forward(runner: Runner, grid: GridConfig, out: Path) -> dict[str, Any]:
    """Run every window's search and test; write the tables, the curve and the figures."""
    assert grid.walk_forward is not None
    found = windows(*_span(runner, grid.walk_forward), grid.walk_forward)
    if not found:
        raise UsageError(
            "walk_forward: the data holds no whole train + test window; "
            "shorten train or test, or set walk_forward.start and end"
        )
    chosen: list[Outcome] = []
    every: list[Outcome] = []
    for window in found:
        trained = _train(runner, grid, window)
        for outcome in trained:
            outcome.extra.update(window=window.index, phase="train")
        best = ranked(trained, grid)
        if not best:
            raise UsageError(f"walk_forward: no point of window {window.index} has an objective")
        chosen.append(best[0])
        every.extend(trained)
    tests = runner.evaluate(
        [{**_strategy(o.point.params), **w.test()} for o, w in zip(chosen, found, strict=True)]
    )
    for outcome, window in zip(tests, found, strict=True):
        outcome.extra.update(window=window.index, phase="test")
    write_results(out, [*every, *tests])
    write_timings(out, list(runner.outcomes.values()))
    report = _report(
        grid, out, found=found, chosen=chosen, tests=tests, points_dir=runner.points_dir
    )
    ran = [*every, *tests]
    return {**report, "points": len(ran), "failed": sum(o.error is not None for o in ran)}


def _train(runner: Runner, grid: GridConfig, window: Window) -> list[Outcome]:
    """The grid's search over ``window``'s training period."""

    def evaluate(params_list: list[Params]) -> list[Outcome]:
        return runner.evaluate([{**params, **window.train()} for params in params_list])

    return search(grid, evaluate)


def _strategy(params: Params) -> Params:
    return {key: value for key, value in params.items() if key not in WINDOW_KEYS}


def _span(runner: Runner, config: WalkForwardConfig) -> tuple[datetime, datetime]:
    """Where windows start and must end: as configured, else the data's own span.

    The span comes from one replay of the config as written (a point like any other, so
    it is run once and resumed after).
    """
    start = _moment(config.start) if config.start else None
    end = _moment(config.end) if config.end else None
    if start is None or end is None:
        (probe,) = runner.evaluate([{}])
        if probe.summary is None or probe.summary.get("first_timestamp") is None:
            raise UsageError(f"walk_forward: the config's own replay failed: {probe.error}")
        start = start or _moment(probe.summary["first_timestamp"])
        end = end or _moment(probe.summary["last_timestamp"]) + timedelta(seconds=1)
    return start, end


def _report(
    grid: GridConfig,
    out: Path,
    *,
    found: list[Window],
    chosen: list[Outcome],
    tests: list[Outcome],
    points_dir: Path,
) -> dict[str, Any]:
    """walk_forward.csv, oos_equity.csv and walk_forward.json (returned)."""
    _write_windows(out / "walk_forward.csv", grid, found, chosen, tests)
    curve = _stitch([points_dir / t.point.id / "equity.csv" for t in tests])
    with (out / "oos_equity.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["time", "equity"])
        writer.writerows((_iso(_from_ns(ts)), f"{value:.6f}") for ts, value in curve)
    report = {
        "windows": len(found),
        "objective": grid.search.objective,
        "in_sample": _mean_figures(chosen),
        "out_of_sample": _mean_figures(tests),
        "out_of_sample_stitched": _curve_figures(curve),
        "failed_tests": sum(t.error is not None for t in tests),
    }
    (out / "walk_forward.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    from atrium.runtime.sweep.html import write_walk_forward_html  # noqa: PLC0415

    write_walk_forward_html(out / "sweep.html", report, out / "walk_forward.csv", curve)
    return report


def _write_windows(
    path: Path, grid: GridConfig, found: list[Window], chosen: list[Outcome], tests: list[Outcome]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "window",
                "train_start",
                "test_start",
                "test_end",
                "params",
                "train_point",
                f"in_sample_{grid.search.objective}",
                "test_point",
                f"out_of_sample_{grid.search.objective}",
                "out_of_sample_total_return",
                "error",
            ]
        )
        for window, best, test in zip(found, chosen, tests, strict=True):
            params = json.dumps(_strategy(best.point.params), default=str, sort_keys=True)
            oos = objective_of(test, grid)
            total = (test.summary or {}).get("total_return")
            writer.writerow(
                [
                    window.index,
                    _iso(window.train_start),
                    _iso(window.test_start),
                    _iso(window.test_end),
                    params,
                    best.point.id,
                    objective_of(best, grid),
                    test.point.id,
                    "" if oos is None else oos,
                    "" if total is None else total,
                    test.error or "",
                ]
            )


def _stitch(paths: list[Path]) -> list[tuple[int, float]]:
    """The test windows' equity curves chained: each scaled to start where the last ended."""
    curve: list[tuple[int, float]] = []
    for path in paths:
        points = read_equity(path)
        if not points:
            continue
        scale = curve[-1][1] / points[0][1] if curve else 1.0
        curve.extend((ts, value * scale) for ts, value in points)
    return curve


def _curve_figures(curve: list[tuple[int, float]]) -> dict[str, Any]:
    if not curve:
        return {}
    equity = EquityCurve(curve[0][1])
    for ts, value in curve:
        equity.add(ts, value)
    stats = equity.performance()
    return {key: round(v, 6) if isinstance(v, float) else v for key, v in stats.items()}


def _mean_figures(outcomes: list[Outcome]) -> dict[str, float | None]:
    """The mean of each window's total return, Sharpe and max drawdown."""
    figures: dict[str, float | None] = {}
    for key in ("total_return", "sharpe", "max_drawdown"):
        values = [
            float(o.summary[key]) for o in outcomes if o.summary and o.summary.get(key) is not None
        ]
        figures[f"mean_{key}"] = round(sum(values) / len(values), 6) if values else None
    return figures


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _from_ns(ts: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts // 1_000)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
