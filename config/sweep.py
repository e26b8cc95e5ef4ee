"""GRID.toml of ``atrium sweep``: which config keys vary, how points are chosen, walk-forward.

A grid file is validated like a config file: every error names its key path
(``search.trials: expected an integer >= 1, got 0``). The keys under ``[params]`` are
dotted paths into the config (``"strategies.ema.params.fast"``); whether each point's
config is valid is checked when the point is built, so one bad point does not stop a sweep.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

import msgspec

from atrium.config.base import ConfigBase

__all__ = (
    "OBJECTIVES",
    "GridConfig",
    "RangeSpec",
    "SearchConfig",
    "WalkForwardConfig",
    "parse_duration",
)

#: Summary figures a search can optimise (the numeric ones of summary.json).
OBJECTIVES: Final = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "win_rate",
    "orders",
    "fills",
    "closing_fills",
)
_DURATION: Final = re.compile(r"^(?P<count>[1-9]\d*)(?P<unit>[dwmy])$")


def parse_duration(key: str, text: str) -> tuple[int, str]:
    """``"3y"`` as ``(3, "y")``; units d (days), w (weeks), m (months), y (years)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{key}: expected a count and a unit d, w, m or y (like '3y' or '6m'), got {text!r}"
        )
    return int(match.group("count")), match.group("unit")


class RangeSpec(ConfigBase, frozen=True, kw_only=True):
    """``{start = 5, stop = 20, step = 5}``: 5, 10, 15, 20 (``stop`` included when reached)."""

    start: Decimal
    stop: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ValueError(f"step: expected a number > 0, got {self.step}")
        if self.stop < self.start:
            raise ValueError(f"stop: must be >= start ({self.start}), got {self.stop}")

    def values(self) -> list[Any]:
        """The values, as integers when start and step are whole numbers."""
        whole = all(value == value.to_integral_value() for value in (self.start, self.step))
        count = int((self.stop - self.start) / self.step) + 1
        values = [self.start + self.step * index for index in range(count)]
        return [int(value) for value in values] if whole else values


class SearchConfig(ConfigBase, frozen=True, kw_only=True):
    """``[search]``: how the points are chosen and judged.

    ``grid`` runs every combination; ``random`` draws ``trials`` of them with ``seed``;
    ``optuna`` asks Optuna's TPE sampler (seeded with ``seed``) for ``trials`` points,
    ``batch`` at a time, so a search is the same whatever the number of workers.
    ``objective`` is the summary figure the best point maximises (or minimises).
    """

    method: Literal["grid", "random", "optuna"] = "grid"
    trials: Annotated[int, msgspec.Meta(ge=1)] | None = None
    objective: str = "sharpe"
    direction: Literal["maximize", "minimize"] = "maximize"
    seed: int = 0
    batch: Annotated[int, msgspec.Meta(ge=1)] = 4
    best: Annotated[int, msgspec.Meta(ge=1)] = 3

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective: unknown summary figure {self.objective!r}; "
                f"use one of {', '.join(OBJECTIVES)}"
            )
        if self.method != "grid" and self.trials is None:
            raise ValueError(f"trials: required for method = {self.method!r}")


class WalkForwardConfig(ConfigBase, frozen=True, kw_only=True):
    """``[walk_forward]``: optimise on ``train``, replay the best on the next ``test``.

    Windows start at ``start`` (default: the feeds' first record) and move by ``step``
    (default: ``test``); a window is used only when its whole test period lies before
    ``end`` (default: just after the feeds' last record).
    """

    train: str
    test: str
    step: str | None = None
    start: str | None = None
    end: str | None = None

    def __post_init__(self) -> None:
        parse_duration("train", self.train)
        parse_duration("test", self.test)
        if self.step is not None:
            parse_duration("step", self.step)


class GridConfig(ConfigBase, frozen=True, kw_only=True):
    """A whole GRID.toml: ``[params]``, ``[search]`` and an optional ``[walk_forward]``."""

    params: dict[str, list[Any] | RangeSpec]
    search: SearchConfig = msgspec.field(default_factory=SearchConfig)
    walk_forward: WalkForwardConfig | None = None

    def __post_init__(self) -> None:
        if not self.params:
            raise ValueError("params: name at least one config key and its values")
        for key, spec in self.params.items():
            if isinstance(spec, list) and not spec:
                raise ValueError(f"params.{key}: list at least one value")
            if self.walk_forward is not None and key in ("market_data.start", "market_data.end"):
                raise ValueError(f"params.{key}: walk_forward sets the window itself")

    def values(self, key: str) -> list[Any]:
        """The values of ``params.<key>``."""
        spec = self.params[key]
        return list(spec) if isinstance(spec, list) else spec.values()
