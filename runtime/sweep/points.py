"""A sweep point: its parameters, its config data, its id, and how it ended.

The id is a hash of the point's resolved config (every default filled in, paths anchored),
so two grids that reach the same config share its outputs, and a re-run finds a finished
point by its directory ``points/<id>`` whatever the grid's order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from atrium.config.loader import ConfigError, parse_config
from atrium.runtime.sweep.grid import Params, with_params

__all__ = ("Outcome", "Point", "make_point", "read_outcome")

#: Figures of summary.json that measure the machine, not the strategy: kept out of
#: results.csv (they go to timings.csv) so results compare byte for byte.
MACHINE_FIGURES = ("wall_seconds", "bars_per_second")


@dataclass(frozen=True)
class Point:
    """One replay of the sweep. ``error`` is set when its config does not validate."""

    id: str
    params: Params
    data: dict[str, Any]
    error: str | None = None


@dataclass
class Outcome:
    """How a point ended: its summary (without machine figures), or the error."""

    point: Point
    summary: dict[str, Any] | None
    error: str | None
    wall_seconds: float
    resumed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def make_point(base: dict[str, Any], params: Params) -> Point:
    """The point of ``params`` over config data ``base``, keyed by its resolved config."""
    data = with_params(base, params)
    try:
        resolved: Any = msgspec.to_builtins(parse_config(data))
        error = None
    except ConfigError as exc:
        resolved, error = data, f"config: {exc}"
    text = json.dumps(resolved, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Point(id=digest, params=params, data=data, error=error)


def read_outcome(point: Point, out_dir: Path, exit_note: str | None, wall: float) -> Outcome:
    """The outcome of a point run into ``out_dir``: summary.json, else error.txt or the exit."""
    summary_file = out_dir / "summary.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        figures = {k: v for k, v in summary.items() if k not in MACHINE_FIGURES}
        return Outcome(point, figures, None, wall)
    error_file = out_dir / "error.txt"
    if error_file.exists():
        error = error_file.read_text(encoding="utf-8").strip()
    else:
        error = exit_note or "the worker ended without a summary"
    return Outcome(point, None, error, wall)
