"""Value-axis ticks of the report's charts: nice steps enclosing the data, worked out by hand."""

from __future__ import annotations

from atrium.runtime.reports.ticks import value_ticks

MINUS = "\N{MINUS SIGN}"


def test_value_ticks_when_money_range_then_step_2000_enclosing_with_separators() -> None:
    # Span 7,754 / 6 = 1,292: step 1,000 gives 94..102 (8 intervals, too many); 2,000
    # gives 94,000..102,000 (4).
    assert value_ticks(94_123, 101_877) == [
        (94_000.0, "94,000"),
        (96_000.0, "96,000"),
        (98_000.0, "98,000"),
        (100_000.0, "100,000"),
        (102_000.0, "102,000"),
    ]


def test_value_ticks_when_step_is_2_5_times_a_power_then_two_decimals() -> None:
    # 0.1 gives 13 intervals, 0.2 gives 0..1.4 (7), 0.25 gives 0..1.5 (6).
    assert value_ticks(0, 1.3) == [
        (0.0, "0.00"),
        (0.25, "0.25"),
        (0.5, "0.50"),
        (0.75, "0.75"),
        (1.0, "1.00"),
        (1.25, "1.25"),
        (1.5, "1.50"),
    ]


def test_value_ticks_when_drawdown_then_negative_ticks_with_a_true_minus() -> None:
    # Step 1 gives -11..0 (11 intervals); 2 gives -12..0 (6).
    assert value_ticks(-10.28, 0) == [
        (-12.0, f"{MINUS}12"),
        (-10.0, f"{MINUS}10"),
        (-8.0, f"{MINUS}8"),
        (-6.0, f"{MINUS}6"),
        (-4.0, f"{MINUS}4"),
        (-2.0, f"{MINUS}2"),
        (0.0, "0"),
    ]


def test_value_ticks_when_bounds_are_decimal_ticks_then_no_extra_tick_from_float_error() -> None:
    # 0.3 / 0.1 is 2.9999999999999996 in floats: without slack 0.2..1.0 (8 intervals)
    # would push the step to 0.2. The ticks are the floats nearest their decimals.
    assert value_ticks(0.3, 0.9) == [
        (0.3, "0.3"),
        (0.4, "0.4"),
        (0.5, "0.5"),
        (0.6, "0.6"),
        (0.7, "0.7"),
        (0.8, "0.8"),
        (0.9, "0.9"),
    ]


def test_value_ticks_when_flat_then_padded_five_percent_either_side() -> None:
    # 95,000..105,000: step 1,000 gives 10 intervals, 2,000 gives 94,000..106,000 (6).
    assert [value for value, _ in value_ticks(100_000, 100_000)] == [
        94_000.0,
        96_000.0,
        98_000.0,
        100_000.0,
        102_000.0,
        104_000.0,
        106_000.0,
    ]


def test_value_ticks_when_flat_at_zero_then_plus_minus_one() -> None:
    # -1..1: 0.1, 0.2 and 0.25 give 20, 10 and 8 intervals; 0.5 gives 4.
    assert value_ticks(0, 0) == [
        (-1.0, f"{MINUS}1.0"),
        (-0.5, f"{MINUS}0.5"),
        (0.0, "0.0"),
        (0.5, "0.5"),
        (1.0, "1.0"),
    ]
