"""Incremental indicators against hand-worked values and a full-recompute reference."""

from __future__ import annotations

import csv
import math
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atrium.actors.indicators import EMA, MACD, SMA, RollingHigh, RollingLow, WilderATR

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
DAILY_FILES = ("nvda-1999-2014.txt", "orcl-1995-2014.txt", "yhoo-1996-2014.txt")
REL = 1e-9


def _read_hlc(name: str) -> tuple[list[float], list[float], list[float]]:
    highs: list[float] = []
    lows: list[float] = []
    closes: list[float] = []
    with (DATA / name).open(newline="") as fh:
        for row in csv.DictReader(fh):
            highs.append(float(row["High"]))
            lows.append(float(row["Low"]))
            closes.append(float(row["Close"]))
    return highs, lows, closes


# -- reference implementations: whole-series, written the obvious way ---------------------


def _ref_sma(xs: list[float], n: int) -> list[float | None]:
    return [None if i + 1 < n else math.fsum(xs[i + 1 - n : i + 1]) / n for i in range(len(xs))]


def _ref_ema(xs: list[float], n: int) -> list[float | None]:
    out: list[float | None] = [None] * len(xs)
    if len(xs) < n:
        return out
    alpha = 2 / (n + 1)
    ema = sum(xs[:n]) / n
    out[n - 1] = ema
    for i in range(n, len(xs)):
        ema = alpha * xs[i] + (1 - alpha) * ema
        out[i] = ema
    return out


def _ref_atr(h: list[float], lo: list[float], c: list[float], n: int) -> list[float | None]:
    trs = [h[0] - lo[0]] + [
        max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(h))
    ]
    out: list[float | None] = [None] * len(h)
    atr = sum(trs[:n]) / n
    out[n - 1] = atr
    for i in range(n, len(h)):
        atr = (atr * (n - 1) + trs[i]) / n
        out[i] = atr
    return out


def _ref_macd(
    xs: list[float], fast: int, slow: int, signal: int
) -> list[tuple[float, float, float] | None]:
    f = _ref_ema(xs, fast)
    s = _ref_ema(xs, slow)
    line = [fv - sv for fv, sv in zip(f[slow - 1 :], s[slow - 1 :], strict=True)]  # type: ignore[operator]
    sig = _ref_ema(line, signal)
    out: list[tuple[float, float, float] | None] = [None] * len(xs)
    for j, (m, sg) in enumerate(zip(line, sig, strict=True)):
        if sg is not None:
            out[slow - 1 + j] = (m, sg, m - sg)
    return out


def _assert_series(got: list[float | None], want: list[float | None]) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            assert g is None, f"index {i}: expected not ready, got {g}"
        else:
            assert g is not None, f"index {i}: expected {w}, not ready"
            # math.isclose, not pytest.approx: this runs for every bar of every file.
            assert math.isclose(g, w, rel_tol=REL, abs_tol=1e-12), f"index {i}: {g} != {w}"


def _run(ind: SMA | EMA | RollingHigh | RollingLow, xs: list[float]) -> list[float | None]:
    out: list[float | None] = []
    for x in xs:
        ind.update(x)
        out.append(ind.value if ind.ready else None)
    return out


# -- SMA -------------------------------------------------------------------------------


def test_sma_when_three_values_seen_then_ready_with_mean_and_slides() -> None:
    sma = SMA(3)
    sma.update(1.0)
    sma.update(2.0)
    assert not sma.ready
    assert math.isnan(sma.value)
    sma.update(3.0)
    assert sma.ready
    assert sma.value == 2.0
    sma.update(4.0)
    assert sma.value == 3.0


def test_sma_when_large_value_leaves_window_then_small_values_exact() -> None:
    # A running sum alone would keep the rounding error of 1e16 after it left the window;
    # the periodic exact re-sum must bring the mean of (1, 2) back to exactly 1.5.
    sma = SMA(2)
    for x in (1e16, 1.0, 2.0, 1.0, 2.0):
        sma.update(x)
    assert sma.value == 1.5


@pytest.mark.parametrize("period", [0, -3, 2.5, True])
def test_sma_when_period_invalid_then_value_error(period: object) -> None:
    with pytest.raises(ValueError, match=rf"^SMA period must be an int >= 1, got {period!r}$"):
        SMA(period)  # type: ignore[arg-type]


# -- EMA -------------------------------------------------------------------------------


def test_ema_when_period_values_seen_then_seeded_with_their_mean() -> None:
    ema = EMA(3)  # alpha = 0.5
    for x in (1.0, 2.0):
        ema.update(x)
        assert not ema.ready
        assert math.isnan(ema.value)
    ema.update(3.0)
    assert ema.ready
    assert ema.value == 2.0  # (1 + 2 + 3) / 3
    ema.update(4.0)
    assert ema.value == 3.0  # 2 + 0.5 * (4 - 2)
    ema.update(6.0)
    assert ema.value == 4.5  # 3 + 0.5 * (6 - 3)


def test_ema_when_period_one_then_tracks_input() -> None:
    ema = EMA(1)
    ema.update(5.0)
    assert ema.ready
    assert ema.value == 5.0
    ema.update(7.0)
    assert ema.value == 7.0


def test_ema_when_period_zero_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^EMA period must be an int >= 1, got 0$"):
        EMA(0)


# -- Wilder ATR -------------------------------------------------------------------------


def test_wilder_atr_when_gaps_then_true_range_uses_previous_close() -> None:
    atr = WilderATR(3)
    atr.update(10.0, 8.0, 9.0)  # first bar: tr = high - low = 2
    atr.update(11.0, 9.5, 10.5)  # prev close 9 below low: tr = 11 - 9 = 2 (not 1.5)
    assert not atr.ready
    assert math.isnan(atr.value)
    atr.update(13.0, 12.0, 12.5)  # gap up from 10.5: tr = 13 - 10.5 = 2.5 (not 1)
    assert atr.ready
    assert atr.value == pytest.approx(6.5 / 3, rel=1e-15)  # mean of 2, 2, 2.5
    atr.update(10.0, 9.0, 9.5)  # gap down from 12.5: tr = 12.5 - 9 = 3.5
    assert atr.value == pytest.approx(47 / 18, rel=1e-15)  # (13/6 * 2 + 3.5) / 3


def test_wilder_atr_when_default_then_period_fourteen() -> None:
    atr = WilderATR()
    assert atr.period == 14
    for _ in range(13):
        atr.update(2.0, 1.0, 1.5)
    assert not atr.ready
    atr.update(2.0, 1.0, 1.5)
    assert atr.ready
    assert atr.value == 1.0


def test_wilder_atr_when_period_negative_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^WilderATR period must be an int >= 1, got -1$"):
        WilderATR(-1)


# -- MACD -------------------------------------------------------------------------------


def test_macd_when_short_series_then_matches_hand_worked_fractions() -> None:
    # fast EMA(2) alpha 2/3, slow EMA(3) alpha 1/2, signal EMA(2).
    macd = MACD(2, 3, 2)
    for x in (1.0, 2.0, 3.0):
        macd.update(x)
        assert not macd.ready
        assert math.isnan(macd.histogram)
    # x=3: fast 2.5, slow 2 -> macd 1/2 (first signal input)
    macd.update(5.0)
    # x=5: fast 25/6, slow 7/2 -> macd 2/3; signal seed (1/2 + 2/3) / 2 = 7/12
    assert macd.ready
    assert macd.macd == pytest.approx(float(Fraction(2, 3)), rel=1e-14)
    assert macd.value == macd.macd
    assert macd.signal == pytest.approx(float(Fraction(7, 12)), rel=1e-14)
    assert macd.histogram == pytest.approx(float(Fraction(1, 12)), rel=1e-13)
    macd.update(4.0)
    # x=4: fast 73/18, slow 15/4 -> macd 11/36; signal 7/12 + 2/3 (11/36 - 7/12) = 43/108
    assert macd.macd == pytest.approx(float(Fraction(11, 36)), rel=1e-13)
    assert macd.signal == pytest.approx(float(Fraction(43, 108)), rel=1e-13)
    assert macd.histogram == pytest.approx(float(Fraction(-5, 54)), rel=1e-12)


def test_macd_when_defaults_then_ready_after_slow_plus_signal_minus_one() -> None:
    macd = MACD()
    for i in range(33):
        macd.update(float(i + 1))
    assert not macd.ready
    macd.update(34.0)
    assert macd.ready


def test_macd_when_fast_not_below_slow_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^MACD fast must be < slow, got fast=26, slow=12$"):
        MACD(26, 12)


def test_macd_when_signal_zero_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^MACD signal must be an int >= 1, got 0$"):
        MACD(12, 26, 0)


# -- rolling high / low -----------------------------------------------------------------


def test_rolling_high_when_max_leaves_window_then_evicted() -> None:
    high = RollingHigh(3)
    assert _run(high, [5.0, 1.0, 2.0, 3.0, 0.0, 1.0, 0.5]) == [
        None,
        None,
        5.0,
        3.0,  # 5 left the window (1, 2, 3)
        3.0,
        3.0,
        1.0,  # window (0, 1, 0.5)
    ]


def test_rolling_high_when_equal_values_then_newest_kept() -> None:
    high = RollingHigh(2)
    assert _run(high, [2.0, 2.0, 1.0, 0.0]) == [None, 2.0, 2.0, 1.0]


def test_rolling_low_when_min_leaves_window_then_evicted() -> None:
    low = RollingLow(3)
    assert _run(low, [1.0, 5.0, 4.0, 3.0, 6.0, 7.0, 8.0]) == [
        None,
        None,
        1.0,
        3.0,  # 1 left the window (5, 4, 3)
        3.0,
        3.0,
        6.0,  # window (6, 7, 8)
    ]


def test_rolling_low_when_period_zero_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^RollingLow period must be an int >= 1, got 0$"):
        RollingLow(0)


def test_rolling_high_when_period_zero_then_value_error() -> None:
    with pytest.raises(ValueError, match=r"^RollingHigh period must be an int >= 1, got 0$"):
        RollingHigh(0)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60),
    st.integers(1, 8),
)
def test_rolling_extremes_when_any_series_then_equal_window_max_min(
    xs: list[float], period: int
) -> None:
    want_hi = [None if i + 1 < period else max(xs[i + 1 - period : i + 1]) for i in range(len(xs))]
    want_lo = [None if i + 1 < period else min(xs[i + 1 - period : i + 1]) for i in range(len(xs))]
    assert _run(RollingHigh(period), xs) == want_hi
    assert _run(RollingLow(period), xs) == want_lo


@given(
    st.lists(st.floats(0.01, 1e4, allow_nan=False), max_size=60),
    st.integers(1, 8),
)
def test_sma_when_any_series_then_equal_window_mean(xs: list[float], period: int) -> None:
    _assert_series(_run(SMA(period), xs), _ref_sma(xs, period))


# -- real data: incremental == full recompute at every bar ------------------------------


@pytest.mark.parametrize("name", DAILY_FILES)
def test_indicators_when_real_daily_file_then_match_full_recompute(name: str) -> None:
    highs, lows, closes = _read_hlc(name)
    assert len(closes) > 4000
    _assert_series(_run(SMA(20), closes), _ref_sma(closes, 20))
    _assert_series(_run(EMA(10), closes), _ref_ema(closes, 10))
    _assert_series(_run(EMA(30), closes), _ref_ema(closes, 30))
    assert _run(RollingHigh(20), highs) == [
        None if i < 19 else max(highs[i - 19 : i + 1]) for i in range(len(highs))
    ]
    assert _run(RollingLow(20), lows) == [
        None if i < 19 else min(lows[i - 19 : i + 1]) for i in range(len(lows))
    ]

    atr = WilderATR(14)
    got_atr: list[float | None] = []
    for h, lo, c in zip(highs, lows, closes, strict=True):
        atr.update(h, lo, c)
        got_atr.append(atr.value if atr.ready else None)
    _assert_series(got_atr, _ref_atr(highs, lows, closes, 14))

    macd = MACD()
    want_macd = _ref_macd(closes, 12, 26, 9)
    for i, x in enumerate(closes):
        macd.update(x)
        want = want_macd[i]
        assert macd.ready is (want is not None), f"index {i}"
        if want is not None:
            got = (macd.macd, macd.signal, macd.histogram)
            for g, w in zip(got, want, strict=True):
                assert math.isclose(g, w, rel_tol=1e-7, abs_tol=1e-12), f"index {i}: {got} {want}"


def test_indicators_when_real_minute_file_then_match_full_recompute() -> None:
    highs: list[float] = []
    lows: list[float] = []
    closes: list[float] = []
    with (DATA / "2006-min-005.txt").open(newline="") as fh:
        for row in csv.DictReader(fh):
            highs.append(float(row["High"]))
            lows.append(float(row["Low"]))
            closes.append(float(row["Close"]))
    assert len(closes) == 2142
    _assert_series(_run(SMA(50), closes), _ref_sma(closes, 50))
    _assert_series(_run(EMA(50), closes), _ref_ema(closes, 50))
    atr = WilderATR(14)
    got: list[float | None] = []
    for h, lo, c in zip(highs, lows, closes, strict=True):
        atr.update(h, lo, c)
        got.append(atr.value if atr.ready else None)
    _assert_series(got, _ref_atr(highs, lows, closes, 14))
