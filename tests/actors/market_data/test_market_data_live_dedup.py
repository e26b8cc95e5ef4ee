"""Resend deduplication: hand-worked cases of the rule, and the property it promises."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from atrium.actors.market_data.live_dedup import TradeDeduplicator, Verdict

NEW, DUPLICATE, OUT_OF_ORDER = Verdict.NEW, Verdict.DUPLICATE, Verdict.OUT_OF_ORDER
Trade = tuple[str, int, Decimal, Decimal]


def _t(ts: int, price: str = "10", size: str = "1", symbol: str = "ES") -> Trade:
    return symbol, ts, Decimal(price), Decimal(size)


def _judge(dedup: TradeDeduplicator, *trades: Trade) -> list[Verdict]:
    return [dedup.admit(*trade) for trade in trades]


def test_admit_when_resent_after_reconnect_then_older_and_repeated_trades_dropped() -> None:
    dedup = TradeDeduplicator()
    dedup.begin_connection()
    assert _judge(dedup, _t(1), _t(2), _t(3, "11")) == [NEW, NEW, NEW]

    dedup.begin_connection()

    assert _judge(dedup, _t(2), _t(3, "11"), _t(4)) == [DUPLICATE, DUPLICATE, NEW]


def test_admit_when_two_identical_prints_in_one_millisecond_then_both_delivered() -> None:
    dedup = TradeDeduplicator()

    assert _judge(dedup, _t(5), _t(5), _t(5, "11")) == [NEW, NEW, NEW]


def test_admit_when_resend_repeats_identical_prints_then_only_a_further_one_is_new() -> None:
    dedup = TradeDeduplicator()
    assert _judge(dedup, _t(4), _t(5), _t(5)) == [NEW, NEW, NEW]

    dedup.begin_connection()

    # The resend starts at ms 4; a third identical print at ms 5 is genuinely new.
    assert _judge(dedup, _t(4), _t(5), _t(5), _t(5), _t(6)) == [
        DUPLICATE,
        DUPLICATE,
        DUPLICATE,
        NEW,
        NEW,
    ]


def test_admit_when_millisecond_continues_after_reconnect_then_new_prints_in_it_delivered() -> None:
    dedup = TradeDeduplicator()
    assert _judge(dedup, _t(5, "10", "60")) == [NEW]

    dedup.begin_connection()

    assert _judge(dedup, _t(5, "10", "60"), _t(5, "11", "1")) == [DUPLICATE, NEW]


def test_admit_when_older_trade_after_connection_caught_up_then_out_of_order() -> None:
    dedup = TradeDeduplicator()
    assert _judge(dedup, _t(5), _t(6)) == [NEW, NEW]

    # Before this connection delivered anything, an older trade is a resend ...
    dedup.begin_connection()
    assert _judge(dedup, _t(5)) == [DUPLICATE]
    # ... after it did, the venue sent something out of order.
    assert _judge(dedup, _t(7), _t(6, "12")) == [NEW, OUT_OF_ORDER]


def test_admit_when_trade_ids_given_then_ids_decide_even_for_identical_content() -> None:
    dedup = TradeDeduplicator()
    assert [dedup.admit(*_t(5), trade_id=i) for i in (100, 101)] == [NEW, NEW]

    dedup.begin_connection()

    assert dedup.admit(*_t(5), trade_id=101) is DUPLICATE
    assert dedup.admit(*_t(5), trade_id=102) is NEW  # same content, same ms, new id
    assert dedup.admit(*_t(4), trade_id=103) is OUT_OF_ORDER  # newer id, older time
    assert dedup.admit(*_t(6), trade_id=103) is NEW


def test_admit_when_symbols_interleave_then_each_symbol_judged_on_its_own() -> None:
    dedup = TradeDeduplicator()
    assert _judge(dedup, _t(5, symbol="A"), _t(3, symbol="B")) == [NEW, NEW]

    assert _judge(dedup, _t(4, symbol="B"), _t(4, symbol="A")) == [NEW, OUT_OF_ORDER]


# -- the property --------------------------------------------------------------------------


@st.composite
def _trades(draw: st.DrawFn) -> list[Trade]:
    """A stream in time order; few gaps, prices and sizes, so identical prints in one
    millisecond are common."""
    steps = draw(
        st.lists(st.tuples(st.integers(0, 2), st.sampled_from("ab"), st.sampled_from("12")))
    )
    trades, ts = [], 0
    for gap, price, size in steps:
        ts += gap
        trades.append(_t(ts, "10" if price == "a" else "11", size))
    return trades


def _replay_with_drops(
    trades: list[Trade], cuts: list[tuple[int, int]], *, with_ids: bool
) -> list[Trade]:
    """What the client delivers when the stream drops after ``cut`` trades and the next
    connection resends from ``restart`` on, for each ``(cut, restart)``."""
    dedup = TradeDeduplicator()
    dedup.begin_connection()
    delivered: list[Trade] = []
    position = 0
    for cut, restart in [*cuts, (len(trades), len(trades))]:
        for index in range(position, cut):
            trade_id = index if with_ids else None
            if dedup.admit(*trades[index], trade_id=trade_id) is NEW:
                delivered.append(trades[index])
        dedup.begin_connection()
        position = restart
    return delivered


@st.composite
def _drops(draw: st.DrawFn, *, boundaries_only: bool) -> tuple[list[Trade], list[tuple[int, int]]]:
    """A stream and up to four drops: ``(cut, restart)``, each cut at or after the
    previous restart, each restart at or before its cut (on a millisecond boundary when
    ``boundaries_only``)."""
    trades = draw(_trades())
    starts = [
        index
        for index in range(len(trades) + 1)
        if not boundaries_only
        or index in (0, len(trades))
        or trades[index][1] != trades[index - 1][1]
    ]
    cuts: list[tuple[int, int]] = []
    position = 0
    for cut_pick, restart_pick in draw(
        st.lists(st.tuples(st.integers(0), st.integers(0)), max_size=4)
    ):
        cut = position + cut_pick % (len(trades) - position + 1)
        allowed = [index for index in starts if index <= cut]
        restart = allowed[restart_pick % len(allowed)]
        cuts.append((cut, restart))
        position = restart
    return trades, cuts


@settings(max_examples=100, deadline=None)
@given(_drops(boundaries_only=True))
def test_property_when_resends_start_on_a_millisecond_then_delivered_equals_the_stream(
    case: tuple[list[Trade], list[tuple[int, int]]],
) -> None:
    trades, cuts = case

    assert _replay_with_drops(trades, cuts, with_ids=False) == trades


@settings(max_examples=100, deadline=None)
@given(_drops(boundaries_only=False))
def test_property_when_trade_ids_given_then_any_resend_delivers_the_stream_exactly(
    case: tuple[list[Trade], list[tuple[int, int]]],
) -> None:
    trades, cuts = case

    assert _replay_with_drops(trades, cuts, with_ids=True) == trades


@settings(max_examples=100, deadline=None)
@given(_drops(boundaries_only=False))
def test_property_when_any_resend_without_ids_then_nothing_twice_and_never_back_in_time(
    case: tuple[list[Trade], list[tuple[int, int]]],
) -> None:
    trades, cuts = case

    delivered = _replay_with_drops(trades, cuts, with_ids=False)

    # Nothing invented or repeated: no millisecond gets more prints of a price and size
    # than the stream had.
    assert Counter(delivered) <= Counter(trades)
    # Time never moves back (within a millisecond, a print one resend dropped may come
    # with a later resend, after prints of that millisecond that followed it).
    times = [ts for _, ts, _, _ in delivered]
    assert times == sorted(times)


def test_admit_when_a_dropped_print_comes_again_then_it_is_delivered_in_its_millisecond() -> None:
    # The stream is a, a, b, a in one millisecond. The first connection delivers a; the
    # second resends from the second print, and its a is taken for the one delivered
    # (the edge case: dropped), then b and a; the third resends everything and brings
    # the third a of the millisecond: delivered now, after b.
    dedup = TradeDeduplicator()
    a, b = _t(0, "10", "1"), _t(0, "10", "2")
    dedup.begin_connection()
    assert _judge(dedup, a) == [NEW]
    dedup.begin_connection()
    assert _judge(dedup, a, b, a) == [DUPLICATE, NEW, NEW]
    dedup.begin_connection()
    assert _judge(dedup, a, a, b, a) == [DUPLICATE, DUPLICATE, DUPLICATE, NEW]
