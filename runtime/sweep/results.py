"""results.csv, results.parquet and timings.csv of a sweep.

results.csv holds what a point's replay decides (its parameters and summary figures, or
its error) and nothing that depends on the machine, so the same sweep gives the same
file byte for byte on any engine. Wall times go to timings.csv beside it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atrium.runtime.sweep.points import Outcome

__all__ = ("result_rows", "write_results", "write_timings")

#: The columns every row has before its parameters and figures.
LEAD = ("point", "status")


def result_rows(outcomes: Sequence[Outcome]) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and one row per outcome: id, status, parameters, figures, error."""
    params: dict[str, None] = {}
    figures: dict[str, None] = {}
    for outcome in outcomes:
        params.update(dict.fromkeys(outcome.point.params))
        params.update(dict.fromkeys(outcome.extra))
        figures.update(dict.fromkeys(outcome.summary or {}))
    columns = [*LEAD, *params, *figures, "error"]
    rows = []
    for outcome in outcomes:
        row: dict[str, Any] = {"point": outcome.point.id}
        row["status"] = "ok" if outcome.error is None else "failed"
        row.update(outcome.point.params)
        row.update(outcome.extra)
        row.update(outcome.summary or {})
        row["error"] = outcome.error or ""
        rows.append(row)
    return columns, rows


def write_results(out_dir: Path, outcomes: Sequence[Outcome], stem: str = "results") -> None:
    """Write ``<stem>.csv`` and, when pyarrow is installed, ``<stem>.parquet``."""
    columns, rows = result_rows(outcomes)
    with (out_dir / f"{stem}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: _cell(row.get(key)) for key in columns} for row in rows)
    _write_parquet(out_dir / f"{stem}.parquet", columns, rows)


def write_timings(out_dir: Path, outcomes: Sequence[Outcome]) -> None:
    """timings.csv: each point's wall time this run (0 and ``resumed`` when it was skipped)."""
    with (out_dir / "timings.csv").open("w", newline="", encoding="utf-8") as handle:
        timing = csv.writer(handle, lineterminator="\n")
        timing.writerow(["point", "wall_seconds", "resumed"])
        for outcome in outcomes:
            resumed = "yes" if outcome.resumed else "no"
            timing.writerow([outcome.point.id, f"{outcome.wall_seconds:.3f}", resumed])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_parquet(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """The same table as Parquet: numbers as doubles, everything else as text."""
    try:
        import pyarrow as pa  # noqa: PLC0415 -- optional: pip install 'atrium-trading[sweep]'
        import pyarrow.parquet as pq  # noqa: PLC0415
    except ImportError:
        return
    table = {column: [_parquet_cell(row.get(column)) for row in rows] for column in columns}
    arrays = {}
    for column, values in table.items():
        numeric = all(isinstance(v, float) or v is None for v in values)
        arrays[column] = pa.array(values, type=pa.float64() if numeric else pa.string())
    pq.write_table(pa.table(arrays), path)


def _parquet_cell(value: Any) -> float | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return _cell(value)
