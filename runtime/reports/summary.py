"""summary.json and report.html from what a run gathered (a replay, or a journal read back).

The replay adds what only a running pipeline knows (rejected feed records, dead letters,
wall time); rebuilt from a journal those are ``None``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from atrium.config import AtriumConfig
from atrium.runtime.reports.analysis import analyse
from atrium.runtime.reports.benchmark import BuyAndHold
from atrium.runtime.reports.collect import RunRecord, iso_time
from atrium.runtime.reports.html import write_report

__all__ = ("RunFigures", "summarize", "write_summary_and_report")

#: What only the run itself knows: rejected_records, dead_letters, wall_seconds.
RunFigures = dict[str, Any]


def summarize(
    record: RunRecord,
    risk_free_rate: float,
    run: RunFigures,
    *,
    trades_csv: Path | None = None,
    benchmark: BuyAndHold | None = None,
) -> dict[str, Any]:
    """The summary's figures, floats rounded to 6 places (non-finite ones ``None``).

    With ``trades_csv`` (the run's trades.csv, written) it adds the benchmark and trade
    figures of :func:`~runtime.reports.analysis.analyse`.
    """
    stats = record.curve.performance(risk_free_rate)
    closed = record.wins + record.losses
    first, last = record.curve.first_ts, record.curve.last_ts
    wall_seconds = run.get("wall_seconds")
    summary: dict[str, Any] = {
        "initial_equity": str(record.initial_equity),
        "final_equity": str(record.final_equity),
        "total_return": stats["total_return"],
        "cagr": stats["cagr"],
        "volatility": stats["volatility"],
        "sharpe": stats["sharpe"],
        "sortino": stats["sortino"],
        "annualised_note": stats["annualised_note"],
        "max_drawdown": stats["max_drawdown"],
        "orders": record.orders,
        "fills": record.fills,
        "denials": sum(record.denials.values()),
        "denials_by_reason": dict(sorted(record.denials.items())),
        "win_rate": record.wins / closed if closed else None,
        "closing_fills": closed,
        "bars": record.bars,
        "ticks": record.ticks,
        "rejected_records": run.get("rejected_records"),
        "dead_letters": run.get("dead_letters"),
        "first_timestamp": None if first is None else iso_time(first),
        "last_timestamp": None if last is None else iso_time(last),
        "wall_seconds": wall_seconds,
        "bars_per_second": (record.bars + record.ticks) / wall_seconds if wall_seconds else None,
    }
    if trades_csv is not None:
        summary |= analyse(trades_csv, record.curve, benchmark, risk_free_rate)
    return {key: _round(value) for key, value in summary.items()}


def write_summary_and_report(
    out_dir: Path,
    record: RunRecord,
    summary: dict[str, Any],
    config: AtriumConfig,
    benchmark: BuyAndHold | None = None,
) -> None:
    """Write summary.json and report.html (exposure drawn against the configured limit)."""
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    limit = float(config.portfolio.max_exposure_pct) * float(config.portfolio.max_leverage)
    held = benchmark.chart.points() if benchmark is not None else []
    write_report(out_dir / "report.html", record, summary, limit, held)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round(item) for item in value]
    return value
