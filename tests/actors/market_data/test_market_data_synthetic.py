"""The seeded GBM feed: same seed, same bars; valid bars on a tick grid; exact drift."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from market_data_kit import ns

from atrium.actors.market_data import SyntheticFeed
from atrium.config.market_data import SyntheticConfig
from atrium.runtime.messages import Bar

YEAR = 365 * 86_400


def _bars(**settings_: object) -> list[Bar]:
    return list(SyntheticFeed(SyntheticConfig(**settings_)))  # type: ignore[arg-type]


def test_synthetic_when_same_seed_then_identical_bars_run_after_run() -> None:
    first = _bars(seed=11, symbols=["AAA", "BBB"], count=500)

    assert _bars(seed=11, symbols=["AAA", "BBB"], count=500) == first
    assert _bars(seed=12, symbols=["AAA", "BBB"], count=500) != first


def test_synthetic_when_seed_7_then_first_bars_are_the_recorded_ones() -> None:
    # Pinned so that a change to the generator (and so to every demo) is noticed.
    assert _bars(seed=7, symbols=["AAA", "BBB"], count=1) == [
        Bar(
            ts=ns("2024-01-02T00:00:00"),
            symbol="AAA",
            open=Decimal("100.00"),
            high=Decimal("100.05"),
            low=Decimal("100.00"),
            close=Decimal("100.05"),
            volume=Decimal(413),
        ),
        Bar(
            ts=ns("2024-01-02T00:00:00"),
            symbol="BBB",
            open=Decimal("100.00"),
            high=Decimal("100.00"),
            low=Decimal("99.98"),
            close=Decimal("99.99"),
            volume=Decimal(1092),
        ),
    ]


def test_synthetic_when_symbol_added_then_other_paths_unchanged() -> None:
    alone = _bars(seed=3, symbols=["AAA"], count=50)
    together = _bars(seed=3, symbols=["ZZZ", "AAA"], count=50)

    assert [b for b in together if b.symbol == "AAA"] == alone


def test_synthetic_when_no_volatility_then_close_follows_drift_exactly() -> None:
    # One bar per year at drift 0.5: closes 100 e^0.5 = 164.872..., 100 e^1 = 271.828...
    bars = _bars(drift=0.5, volatility=0.0, bar_seconds=YEAR, count=2, start="2020-01-01")

    assert [(b.open, b.high, b.low, b.close) for b in bars] == [
        (Decimal("100.00"), Decimal("164.87"), Decimal("100.00"), Decimal("164.87")),
        (Decimal("164.87"), Decimal("271.83"), Decimal("164.87"), Decimal("271.83")),
    ]
    assert [b.ts for b in bars] == [ns("2020-01-01"), ns("2020-01-01") + YEAR * 10**9]


def test_synthetic_when_price_falls_below_a_tick_then_held_at_one_tick() -> None:
    bars = _bars(drift=-50.0, volatility=0.0, bar_seconds=YEAR, count=2, start_price=Decimal("1"))

    assert [b.close for b in bars] == [Decimal("0.01"), Decimal("0.01")]
    assert all(b.low == Decimal("0.01") for b in bars)


def test_synthetic_when_iterated_then_progress_counts_bars_of_all_symbols() -> None:
    feed = SyntheticFeed(SyntheticConfig(symbols=["A", "B", "C"], count=4))
    stream = iter(feed)

    assert feed.progress() == (0, 12)
    next(stream)
    assert feed.progress() == (1, 12)
    assert len(list(stream)) == 11
    assert feed.progress() == (12, 12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    drift=st.floats(min_value=-2, max_value=2),
    volatility=st.floats(min_value=0, max_value=3),
    tick=st.sampled_from(["0.01", "0.05", "0.25", "1", "0.0001"]),
    bar_seconds=st.sampled_from([1, 60, 3600, 86_400]),
)
def test_synthetic_when_any_parameters_then_bars_valid_on_grid_and_continuous(
    seed: int, drift: float, volatility: float, tick: str, bar_seconds: int
) -> None:
    tick_size = Decimal(tick)
    bars = _bars(
        seed=seed,
        drift=drift,
        volatility=volatility,
        tick_size=tick_size,
        bar_seconds=bar_seconds,
        symbols=["A", "B"],
        count=60,
    )

    assert len(bars) == 120
    previous: dict[str, Bar] = {}
    for bar in bars:
        assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert bar.low >= tick_size
        for price in (bar.open, bar.high, bar.low, bar.close):
            assert price % tick_size == 0
        assert bar.volume >= 1
        if bar.symbol in previous:
            assert bar.open == previous[bar.symbol].close
            assert bar.ts == previous[bar.symbol].ts + bar_seconds * 10**9
        previous[bar.symbol] = bar


def _reference_bars(config: SyntheticConfig) -> list[Bar]:
    """The feed written plainly, with ``random.gauss``: what its inlined draws must equal."""
    dt = config.bar_seconds / YEAR / config.intrabar_steps
    mu = (config.drift - 0.5 * config.volatility**2) * dt
    sigma = config.volatility * math.sqrt(dt)
    tick = config.tick_size
    rngs = {symbol: random.Random(f"{config.seed}:{symbol}") for symbol in config.symbols}
    prices = dict.fromkeys(config.symbols, float(config.start_price))
    bars = []
    for n in range(config.count):
        for symbol, rng in rngs.items():
            price = high = low = prices[symbol]
            path = [price]
            for _ in range(config.intrabar_steps):
                price *= math.exp(mu + sigma * rng.gauss(0.0, 1.0))
                path.append(price)
            high, low, prices[symbol] = max(path), min(path), price
            on_grid = [tick * max(1, round(value / float(tick))) for value in (path[0], high, low)]
            bars.append(
                Bar(
                    ts=config.start_ns + n * config.bar_seconds * 10**9,
                    symbol=symbol,
                    open=on_grid[0],
                    high=on_grid[1],
                    low=on_grid[2],
                    close=tick * max(1, round(price / float(tick))),
                    volume=Decimal(1 + int(rng.expovariate(1.0 / config.mean_volume))),
                )
            )
    return bars


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    steps=st.integers(min_value=1, max_value=7),
    tick=st.sampled_from(["0.0001", "0.01", "0.05", "1", "25"]),
    volatility=st.sampled_from([0.0, 0.2, 3.0]),
)
def test_synthetic_when_compared_with_random_gauss_steps_then_same_bars(
    seed: int, steps: int, tick: str, volatility: float
) -> None:
    """Odd step counts carry the second draw of a pair into the next bar, as gauss does."""
    config = SyntheticConfig(
        seed=seed,
        symbols=["A", "B"],
        count=40,
        intrabar_steps=steps,
        tick_size=Decimal(tick),
        volatility=volatility,
    )

    bars = list(SyntheticFeed(config))

    assert len(bars) == 80
    assert msgspec.json.encode(bars) == msgspec.json.encode(_reference_bars(config))
