"""GRID.toml: values, ranges, errors that name the key, and point ids."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sweep_kit import GRID_2X2, write_config, write_grid

from atrium.config.loader import ConfigError, load_config_data
from atrium.runtime.sweep.grid import check_keys, grid_points, load_grid
from atrium.runtime.sweep.points import make_point


def test_grid_points_combine_lists_and_ranges_first_key_slowest(tmp_path: Path) -> None:
    grid = load_grid(write_grid(tmp_path, GRID_2X2))
    assert grid_points(grid) == [
        {"strategies.ema.params.fast": 5, "strategies.ema.params.slow": 20},
        {"strategies.ema.params.fast": 5, "strategies.ema.params.slow": 30},
        {"strategies.ema.params.fast": 10, "strategies.ema.params.slow": 20},
        {"strategies.ema.params.fast": 10, "strategies.ema.params.slow": 30},
    ]
    assert (grid.search.method, grid.search.objective) == ("grid", "sharpe")


def test_a_decimal_range_includes_its_stop(tmp_path: Path) -> None:
    grid = load_grid(
        write_grid(tmp_path, '[params]\n"risk.x" = {start = 0.1, stop = 0.3, step = 0.1}\n')
    )
    assert grid.values("risk.x") == [Decimal("0.1"), Decimal("0.2"), Decimal("0.3")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[params]\n"a.b" = 5\n', r"params\.a\.b: expected a list of values or a table"),
        ('[params]\n"a.b" = []\n', r"params\.a\.b: list at least one value"),
        ("[params]\n", r"params: name at least one config key"),
        (
            '[params]\n"a" = [1]\n[search]\nobjective = "luck"\n',
            r"search\.objective: unknown summary figure 'luck'",
        ),
        (
            '[params]\n"a" = [1]\n[search]\nmethod = "optuna"\n',
            r"search\.trials: required for method = 'optuna'",
        ),
        (
            '[params]\n"a" = [1]\n[search]\ntrials = 0\n',
            r"search\.trials: expected an integer >= 1, got 0",
        ),
        (
            '[params]\n"a" = [1]\n[walk_forward]\ntrain = "3 years"\ntest = "1y"\n',
            r"walk_forward\.train: expected a count and a unit",
        ),
        ('[params]\n"a" = {start = 1, stop = 0, step = 1}\n', r"stop: must be >= start"),
    ],
)
def test_grid_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_grid(write_grid(tmp_path, text))


def test_a_key_through_a_value_is_refused(tmp_path: Path) -> None:
    data = load_config_data(write_config(tmp_path))
    grid = load_grid(write_grid(tmp_path, '[params]\n"strategies.ema.symbols.x" = [1]\n'))
    with pytest.raises(
        ConfigError,
        match=r"params\.strategies\.ema\.symbols\.x: strategies\.ema\.symbols has 1 entries",
    ):
        check_keys(data, grid)


def test_point_id_is_the_hash_of_the_resolved_config(tmp_path: Path) -> None:
    data = load_config_data(write_config(tmp_path))
    same = make_point(data, {"strategies.ema.params.fast": 10})  # the base already says 10
    base = make_point(data, {})
    other = make_point(data, {"strategies.ema.params.fast": 5})
    # A default written out resolves to the same config, so to the same point.
    explicit = make_point(data, {"execution.market_fill": "next_open"})
    assert same.id == base.id == explicit.id
    assert other.id != base.id and len(other.id) == 16
    assert other.data["strategies"]["ema"]["params"]["fast"] == 5
    assert data["strategies"]["ema"]["params"]["fast"] == 10  # the base is not changed
    broken = make_point(data, {"portfolio.max_leverage": -1})
    assert broken.error == "config: portfolio.max_leverage: expected a number > 0, got -1"
