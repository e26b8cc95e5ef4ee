"""Value-axis ticks at "nice" numbers, with their labels.

A reader judges a curve by its gridlines: ticks fall on 1, 2, 2.5 or 5 × 10^k and enclose
the data, so the axis runs from the first tick to the last. Steps are exact decimals, so
a tick is the float nearest its label (0.3, not 0.30000000000000004).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

__all__ = ("value_ticks",)

#: Intervals between ticks at most: seven ticks over a chart about 250 px tall.
MOST_INTERVALS: Final = 6
_MANTISSAS: Final = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
#: A bound within this fraction of a step counts as on the tick: binary floats miss
#: decimal ticks by a hair (0.3 / 0.1 is 2.9999999999999996).
_SLACK: Final = 1e-9
#: A flat series is shown this fraction of its value above and below (or ±1 at zero).
_FLAT_PAD: Final = 0.05


def value_ticks(
    low: float, high: float, intervals: int = MOST_INTERVALS
) -> list[tuple[float, str]]:
    """Ticks ``(value, label)`` enclosing ``[low, high]``: the smallest nice step giving
    at most ``intervals`` intervals; labels have thousands separators and a true minus."""
    if high == low:
        pad = abs(low) * _FLAT_PAD or 1.0
        low, high = low - pad, high + pad
    exponent = math.floor(math.log10((high - low) / intervals))
    while True:
        for mantissa in _MANTISSAS:
            step = mantissa.scaleb(exponent)
            first = math.floor(low / float(step) + _SLACK)
            last = math.ceil(high / float(step) - _SLACK)
            if last - first <= intervals:
                # 2.5 needs one decimal more than its power of ten gives.
                decimals = max(0, -exponent + (mantissa == _MANTISSAS[2]))
                return [_tick(step * n, decimals) for n in range(first, last + 1)]
        exponent += 1


def _tick(value: Decimal, decimals: int) -> tuple[float, str]:
    return float(value), f"{value:,.{decimals}f}".replace("-", "\N{MINUS SIGN}")
