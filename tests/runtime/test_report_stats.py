"""Performance statistics against hand-worked figures."""

from __future__ import annotations

import math

import pytest

from atrium.runtime.reports.stats import NS_PER_DAY, EquityCurve, PerformanceStats

DAY = NS_PER_DAY


def _curve(points: list[tuple[int, float]], initial: float) -> EquityCurve:
    curve = EquityCurve(initial)
    for ts, equity in points:
        curve.add(ts, equity)
    return curve


def performance(
    points: list[tuple[int, float]], initial: float, risk_free_rate: float = 0.0
) -> PerformanceStats:
    return _curve(points, initial).performance(risk_free_rate)


def test_closes_when_several_points_a_day_then_last_of_each_day() -> None:
    points = [(0, 100.0), (DAY // 2, 101.0), (DAY, 99.0), (DAY + 5, 98.0), (3 * DAY, 97.0)]
    assert _curve(points, 100.0).closes == [101.0, 98.0, 97.0]


def test_max_drawdown_when_peak_then_fall_then_new_peak_then_largest_fall_kept() -> None:
    # 100 -> 120 -> 90 (25 % off 120) -> 130 -> 117 (10 % off 130)
    points = [(DAY * i, value) for i, value in enumerate([120.0, 90.0, 130.0, 117.0])]
    assert _curve(points, 100.0).max_drawdown == pytest.approx(0.25)


def test_max_drawdown_when_falling_below_the_initial_equity_then_measured_from_it() -> None:
    assert _curve([(0, 80.0), (DAY, 90.0)], 100.0).max_drawdown == pytest.approx(0.20)


def test_max_drawdown_when_only_rising_then_zero() -> None:
    assert _curve([(0, 2.0), (DAY, 3.0)], 1.0).max_drawdown == 0.0


def test_span_when_first_point_at_epoch_then_counted_for_cagr() -> None:
    stats = _curve([(0, 100.0), (365 * DAY, 110.0)], 100.0).performance()
    assert stats["cagr"] == pytest.approx(1.1 ** (365.25 / 365) - 1)


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
    assert stats["annualised_note"] == "no data"


def test_performance_when_six_hours_of_data_then_annualised_figures_null_with_a_note() -> None:
    # -1 % in six hours: raised to a year's power that was a CAGR of -100 %.
    hour = DAY // 24
    points = [(10 * DAY + h * hour, 100.0 - h / 6) for h in range(7)]
    stats = performance(points, 100.0)
    assert stats == {
        "total_return": pytest.approx(-0.01),
        "annualised_note": "under one day of data",
        "cagr": None,
        "volatility": None,
        "sharpe": None,
        "sortino": None,
        "max_drawdown": pytest.approx(0.01),
    }


def test_performance_when_hours_span_midnight_then_two_closes_still_not_annualised() -> None:
    hour = DAY // 24
    stats = performance([(DAY - 2 * hour, 99.0), (DAY + 2 * hour, 101.0)], 100.0)
    assert (stats["volatility"], stats["sharpe"], stats["sortino"]) == (None, None, None)
    assert stats["annualised_note"] == "under one day of data"


def test_performance_when_a_day_or_more_then_annualised_with_no_note() -> None:
    stats = performance([(0, 100.0), (DAY, 101.0), (2 * DAY, 102.0)], 100.0)
    assert stats["annualised_note"] is None
    assert stats["cagr"] == pytest.approx(1.02 ** (365.25 / 2) - 1)


def test_performance_when_risk_free_rate_then_sharpe_uses_excess_returns() -> None:
    points = [(DAY, 101.0), (2 * DAY, 101.0 * 1.02), (3 * DAY, 101.0 * 1.02 * 0.99)]
    plain = performance(points, 100.0)
    with_rf = performance(points, 100.0, risk_free_rate=0.0252)
    returns = [0.01, 0.02, -0.01]
    mean = sum(returns) / 3
    stdev = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert plain["sharpe"] == pytest.approx(mean / stdev * math.sqrt(252))
    assert with_rf["sharpe"] == pytest.approx((mean - 0.0001) / stdev * math.sqrt(252))
