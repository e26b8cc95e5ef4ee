"""Performance statistics against hand-worked figures."""

from __future__ import annotations

import math

import pytest

from runtime.reports.stats import NS_PER_DAY, daily_closes, max_drawdown, performance

DAY = NS_PER_DAY


def test_daily_closes_when_several_points_a_day_then_last_of_each_day() -> None:
    points = [(0, 100.0), (DAY // 2, 101.0), (DAY, 99.0), (DAY + 5, 98.0), (3 * DAY, 97.0)]
    assert daily_closes(points) == [101.0, 98.0, 97.0]


def test_max_drawdown_when_peak_then_fall_then_new_peak_then_largest_fall_kept() -> None:
    # 100 -> 120 -> 90 (25 % off 120) -> 130 -> 117 (10 % off 130)
    assert max_drawdown([100, 120, 90, 130, 117]) == pytest.approx(0.25)


def test_max_drawdown_when_only_rising_then_zero() -> None:
    assert max_drawdown([1, 2, 3]) == 0.0


def test_performance_when_three_daily_returns_then_hand_worked_figures() -> None:
    # initial 100; daily closes 110, 99, 108.9 -> returns +10 %, -10 %, +10 %
    points = [(DAY, 110.0), (2 * DAY, 99.0), (3 * DAY, 108.9)]
    stats = performance(points, 100.0)
    assert stats["total_return"] == pytest.approx(0.089)
    returns = [0.10, -0.10, 0.10]
    mean = sum(returns) / 3
    stdev = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)  # sample stdev = 0.11547
    assert stats["volatility"] == pytest.approx(stdev * math.sqrt(252))
    assert stats["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    downside = math.sqrt(0.01 / 3)  # only the -10 % day counts
    assert stats["sortino"] == pytest.approx(mean / downside * math.sqrt(252))
    assert stats["max_drawdown"] == pytest.approx(0.10)
    years = 2 * DAY / (365.25 * DAY)
    assert stats["cagr"] == pytest.approx(1.089 ** (1 / years) - 1)


def test_performance_when_no_points_then_flat_and_undefined_ratios() -> None:
    stats = performance([], 100_000.0)
    assert stats["total_return"] == 0.0
    assert stats["sharpe"] is None
    assert stats["cagr"] is None
    assert stats["max_drawdown"] == 0.0


def test_performance_when_risk_free_rate_then_sharpe_uses_excess_returns() -> None:
    points = [(DAY, 101.0), (2 * DAY, 101.0 * 1.02), (3 * DAY, 101.0 * 1.02 * 0.99)]
    plain = performance(points, 100.0)
    with_rf = performance(points, 100.0, risk_free_rate=0.0252)
    returns = [0.01, 0.02, -0.01]
    mean = sum(returns) / 3
    stdev = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert plain["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    assert with_rf["sharpe"] == pytest.approx((mean - 0.0001) / stdev * math.sqrt(252))
