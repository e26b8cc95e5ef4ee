"""The core's kept market data: batches bounded by what is in flight, the newest tick per
symbol kept when the core is behind, every bar kept, and batches that decode as sent."""

from __future__ import annotations

from decimal import Decimal

from atrium.runtime.cluster.marks import MARKS_IN_FLIGHT, MarkBatches
from atrium.runtime.messages import Bar, Tick


def _tick(n: int, symbol: str = "AAA") -> Tick:
    return Tick(ts=n, symbol=symbol, price=Decimal(100 + n), size=Decimal(1))


def _bar(n: int) -> Bar:
    price = Decimal(50)
    return Bar(ts=n, symbol="AAA", open=price, high=price, low=price, close=price)


def test_take_when_ticks_wait_then_one_batch_of_them_in_order() -> None:
    marks = MarkBatches()
    for n in range(3):
        assert marks.add(_tick(n)) == 0
    payload = marks.take()
    assert payload is not None
    assert MarkBatches.unpack(payload) == [_tick(0), _tick(1), _tick(2)]
    assert marks.take() is None


def test_take_when_the_batches_in_flight_hold_the_limit_then_nothing_until_one_came_back() -> None:
    marks = MarkBatches()
    for n in range(MARKS_IN_FLIGHT):
        marks.add(_tick(n, "AAA" if n % 2 else "BBB"))
    first = marks.take()
    assert first is not None and len(MarkBatches.unpack(first)) == MARKS_IN_FLIGHT
    marks.add(_tick(1000))
    assert marks.take() is None  # 256 in flight: none goes out
    marks.came_back(1)
    assert marks.ready.is_set()
    second = marks.take()
    assert second is not None
    assert MarkBatches.unpack(second) == [_tick(1000)]


def test_add_when_more_wait_than_the_limit_then_the_newest_tick_per_symbol_and_every_bar() -> None:
    marks = MarkBatches()
    for n in range(MARKS_IN_FLIGHT):
        marks.add(_tick(n))
    assert marks.take() is not None  # the limit in flight
    waiting = [_tick(1), _bar(2), _tick(3, "BBB"), _tick(4)]
    waiting += [_tick(10 + n, "BBB") for n in range(MARKS_IN_FLIGHT - 4)]
    superseded = sum(marks.add(message) for message in waiting)
    assert superseded == 0  # exactly the limit waits
    # One more: of 257 waiting, AAA's ticks 1 and 4 leave 4, BBB's 253 leave the last.
    superseded = marks.add(_tick(999, "CCC"))
    assert superseded == 257 - 4
    marks.came_back(MARKS_IN_FLIGHT)
    payload = marks.take()
    assert payload is not None
    last_bbb = _tick(10 + MARKS_IN_FLIGHT - 5, "BBB")
    assert MarkBatches.unpack(payload) == [_bar(2), _tick(4), last_bbb, _tick(999, "CCC")]
