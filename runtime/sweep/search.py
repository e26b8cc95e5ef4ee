"""Which points a sweep runs: every grid combination, a seeded random draw, or Optuna.

Each search hands its points to ``evaluate`` (which runs them, or finds them finished)
and gets their outcomes back in the same order. Optuna asks for ``batch`` points at a
time whatever the number of workers, and its sampler is seeded, so the same grid file
gives the same trials on any engine.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from atrium.config.sweep import GridConfig
from atrium.runtime.errors import UsageError
from atrium.runtime.sweep.grid import Params, grid_points
from atrium.runtime.sweep.points import Outcome

__all__ = ("Evaluate", "objective_of", "ranked", "search")

Evaluate = Callable[[list[Params]], list[Outcome]]


def search(grid: GridConfig, evaluate: Evaluate) -> list[Outcome]:
    """Run the grid's search; the outcomes of every point it ran, in the order it ran them."""
    method = grid.search.method
    every = grid_points(grid)
    if method == "grid":
        return evaluate(every)
    trials = grid.search.trials or len(every)
    if method == "random":
        chosen = random.Random(grid.search.seed).sample(range(len(every)), min(trials, len(every)))
        return evaluate([every[index] for index in chosen])
    return _optuna(grid, evaluate, trials)


def objective_of(outcome: Outcome, grid: GridConfig) -> float | None:
    """The objective figure of a finished point (``None``: failed, or undefined)."""
    if outcome.summary is None:
        return None
    value = outcome.summary.get(grid.search.objective)
    return None if value is None else float(value)


def ranked(outcomes: Sequence[Outcome], grid: GridConfig) -> list[Outcome]:
    """The points with an objective, best first; ties keep the order they ran in."""
    scored = [(objective_of(o, grid), index, o) for index, o in enumerate(outcomes)]
    sign = -1.0 if grid.search.direction == "maximize" else 1.0
    valid = [(sign * value, index, o) for value, index, o in scored if value is not None]
    return [outcome for _, _, outcome in sorted(valid, key=lambda item: item[:2])]


def _optuna(grid: GridConfig, evaluate: Evaluate, trials: int) -> list[Outcome]:
    try:
        import optuna  # noqa: PLC0415 -- optional: pip install 'atrium-trading[sweep]'
    except ImportError:
        raise UsageError(
            "search.method = 'optuna' needs optuna: pip install 'atrium-trading[sweep]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=grid.search.seed)
    study = optuna.create_study(direction=grid.search.direction, sampler=sampler)
    outcomes: list[Outcome] = []
    while len(outcomes) < trials:
        asked = [study.ask() for _ in range(min(grid.search.batch, trials - len(outcomes)))]
        batch = evaluate([_suggest(trial, grid) for trial in asked])
        for trial, outcome in zip(asked, batch, strict=True):
            value = objective_of(outcome, grid)
            if value is None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, value)
            outcome.extra["trial"] = trial.number
        outcomes.extend(batch)
    return outcomes


def _suggest(trial: Any, grid: GridConfig) -> Params:
    """A trial's point: an ordered index into a range, a category of a list."""
    params: Params = {}
    for key, spec in grid.params.items():
        values = grid.values(key)
        if isinstance(spec, list):
            index = trial.suggest_categorical(key, list(range(len(values))))
        else:
            index = trial.suggest_int(key, 0, len(values) - 1)
        params[key] = values[index]
    return params
