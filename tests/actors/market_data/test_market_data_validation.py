"""Every validation rule under both policies, with the exact line reported."""

from __future__ import annotations

import logging
import re
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from market_data_kit import ns, read, write

from atrium.actors.market_data.rejections import LOGGED_PER_FEED
from atrium.actors.market_data.validation import REASONS, bar_problem, format_ns, tick_problem
from atrium.runtime.errors import FatalInputError

HEADER = "Datetime,Open,High,Low,Close,Volume"
GOOD_1 = "2024-01-02T10:00:00,10,11,9,10.5,100"
GOOD_2 = "2024-01-02T10:01:00,10.5,12,10,11,200"
GOOD_4 = "2024-01-02T10:03:00,11,11.5,10.5,11,50"

# (bad third data row, reason, problem); the file has it on line 4.
BAR_CASES = [
    ("2024-01-02T10:02:00,10,11,9", "UNPARSEABLE", "expected 6 fields, got 4"),
    ("2024-01-02T10:02:00,10,11,9,10,5,7", "UNPARSEABLE", "expected 6 fields, got 7"),
    (
        "2024-13-02T10:02:00,10,11,9,10,5",
        "UNPARSEABLE",
        "timestamp '2024-13-02T10:02:00' cannot be read",
    ),
    ("2024-01-02T10:02:00,10,1l,9,10,5", "UNPARSEABLE", "high '1l' is not a number"),
    ("2024-01-02T10:02:00,10,11,9,null,5", "UNPARSEABLE", "close 'null' is not a number"),
    ("2024-01-02T10:02:00,10,11,9,NaN,5", "NON_FINITE_PRICE", "close NaN is not finite"),
    ("2024-01-02T10:02:00,10,Infinity,9,10,5", "NON_FINITE_PRICE", "high Infinity is not finite"),
    ("2024-01-02T10:02:00,10,11,0,10,5", "NON_POSITIVE_PRICE", "low 0 is not > 0"),
    ("2024-01-02T10:02:00,-1,11,-2,10,5", "NON_POSITIVE_PRICE", "open -1 is not > 0"),
    (
        "2024-01-02T10:02:00,1.5,1.2,1.1,1.3,5",
        "HIGH_LOW_INCONSISTENT",
        "high 1.2 is below max(open, close) 1.5",
    ),
    (
        "2024-01-02T10:02:00,1.5,1.9,1.45,1.4,5",
        "HIGH_LOW_INCONSISTENT",
        "low 1.45 is above min(open, close) 1.4",
    ),
    ("2024-01-02T10:02:00,10,11,9,10,sNaN", "NON_FINITE_VOLUME", "volume sNaN is not finite"),
    ("2024-01-02T10:02:00,10,11,9,10,-5", "NEGATIVE_VOLUME", "volume -5 is negative"),
    (
        "2024-01-02T10:01:00,10,11,9,10,5",
        "DUPLICATE_TIMESTAMP",
        "timestamp 2024-01-02T10:01:00Z repeats the previous record's",
    ),
    (
        "2024-01-02T09:59:00,10,11,9,10,5",
        "OUT_OF_ORDER",
        "timestamp 2024-01-02T09:59:00Z is before the previous record's 2024-01-02T10:01:00Z",
    ),
    (
        "2024-01-02T10:02:00,10,11,9,10," + "5" * (1 << 20),
        "LINE_TOO_LONG",
        "line longer than 1048576 characters; raise max_line_length of the feed if it is meant",
    ),
]


def _bad_file(tmp_path: Path, bad_row: str) -> str:
    return write(tmp_path, "bad.csv", HEADER, GOOD_1, GOOD_2, bad_row, GOOD_4)


@pytest.mark.parametrize(
    ("row", "reason", "problem"), BAR_CASES, ids=[c[1] + ": " + c[2] for c in BAR_CASES]
)
def test_bar_row_when_bad_and_policy_skip_then_counted_logged_with_line_and_skipped(
    tmp_path: Path, row: str, reason: str, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = _bad_file(tmp_path, row)

    records, rejections = read(path, base_dir=tmp_path)

    assert [r.ts for r in records] == [
        ns("2024-01-02T10:00:00"),
        ns("2024-01-02T10:01:00"),
        ns("2024-01-02T10:03:00"),
    ]
    assert rejections.counts() == {reason: 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"bad.csv:4: {problem} ({reason}); row skipped"
    ]
    assert [r.levelname for r in caplog.records] == ["WARNING"]


@pytest.mark.parametrize(
    ("row", "reason", "problem"), BAR_CASES, ids=[c[1] + ": " + c[2] for c in BAR_CASES]
)
def test_bar_row_when_bad_and_policy_fail_then_stops_naming_file_line_and_problem(
    tmp_path: Path, row: str, reason: str, problem: str
) -> None:
    path = _bad_file(tmp_path, row)

    with pytest.raises(FatalInputError, match=rf"^bad\.csv:4: {re.escape(problem)}$"):
        read(path, base_dir=tmp_path, policy="fail")


def test_reason_codes_when_listed_then_every_bar_case_uses_a_listed_code() -> None:
    assert {reason for _, reason, _ in BAR_CASES} == set(REASONS)


def test_line_numbers_when_blank_lines_precede_then_physical_line_is_reported(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path, "bad.csv", HEADER, "", GOOD_1, "", "", "2024-01-02T10:02:00,10,11,0,10,5"
    )

    with pytest.raises(FatalInputError, match=r"^bad\.csv:6: low 0 is not > 0$"):
        read(path, base_dir=tmp_path, policy="fail")


def test_rejections_when_more_than_the_log_limit_then_rest_counted_not_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bad = ["2024-01-02T10:00:00,10,11,9,10,-1"] * (LOGGED_PER_FEED + 5)
    path = write(tmp_path, "bad.csv", HEADER, *bad)

    records, rejections = read(path, base_dir=tmp_path)

    assert records == []
    assert rejections.counts() == {"NEGATIVE_VOLUME": LOGGED_PER_FEED + 5}
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == LOGGED_PER_FEED + 1
    assert messages[-1] == (
        f"feed bad.csv: more than {LOGGED_PER_FEED} rows rejected; further ones are counted, "
        "not logged"
    )


def test_skipped_row_when_out_of_order_then_later_rows_compare_with_last_accepted(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        HEADER,
        "2024-01-02T10:05:00,10,11,9,10,1",
        "2024-01-02T10:01:00,10,11,9,10,1",  # before 10:05: refused
        "2024-01-02T10:03:00,10,11,9,10,1",  # still before 10:05: refused
        "2024-01-02T10:06:00,10,11,9,10,1",
    )

    records, rejections = read(path, base_dir=tmp_path)

    assert [r.ts for r in records] == [ns("2024-01-02T10:05:00"), ns("2024-01-02T10:06:00")]
    assert rejections.counts() == {"OUT_OF_ORDER": 2}


# -- ticks ---------------------------------------------------------------------------------

TICK_HEADER = "timestamp,price,size"
TICK_CASES = [
    ("2024-01-02T10:00:02,abc,1", "UNPARSEABLE", "price 'abc' is not a number"),
    ("2024-01-02T10:00:02,0,1", "NON_POSITIVE_PRICE", "price 0 is not > 0"),
    ("2024-01-02T10:00:02,-Infinity,1", "NON_FINITE_PRICE", "price -Infinity is not finite"),
    ("2024-01-02T10:00:02,10,-3", "NEGATIVE_VOLUME", "size -3 is negative"),
    ("2024-01-02T10:00:02,10,Infinity", "NON_FINITE_VOLUME", "size Infinity is not finite"),
    (
        "2024-01-02T10:00:00,10,1",
        "OUT_OF_ORDER",
        "timestamp 2024-01-02T10:00:00Z is before the previous record's 2024-01-02T10:00:01Z",
    ),
]


@pytest.mark.parametrize(("row", "reason", "problem"), TICK_CASES, ids=[c[2] for c in TICK_CASES])
def test_tick_row_when_bad_then_skipped_under_skip_and_fatal_under_fail(
    tmp_path: Path, row: str, reason: str, problem: str
) -> None:
    path = write(
        tmp_path, "t.csv", TICK_HEADER, "2024-01-02T10:00:01,10,1", row, "2024-01-02T10:00:03,11,2"
    )

    records, rejections = read(path, base_dir=tmp_path)
    assert [r.ts for r in records] == [ns("2024-01-02T10:00:01"), ns("2024-01-02T10:00:03")]
    assert rejections.counts() == {reason: 1}

    with pytest.raises(FatalInputError, match=rf"^t\.csv:3: {re.escape(problem)}$"):
        read(path, base_dir=tmp_path, policy="fail")


def test_ticks_when_timestamp_repeats_then_both_prints_are_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t.csv", TICK_HEADER, "2024-01-02T10:00:01,10,1", "2024-01-02T10:00:01,10.25,2"
    )

    records, rejections = read(path, base_dir=tmp_path, policy="fail")

    assert [(r.ts, r.price) for r in records] == [  # type: ignore[union-attr]
        (ns("2024-01-02T10:00:01"), Decimal("10")),
        (ns("2024-01-02T10:00:01"), Decimal("10.25")),
    ]
    assert rejections.counts() == {}


# -- the checks as functions ---------------------------------------------------------------


def test_bar_problem_when_values_valid_then_none_even_at_the_edges() -> None:
    one = Decimal(1)
    assert bar_problem(one, one, one, one, Decimal("-0")) is None


def test_bar_problem_when_several_wrong_then_first_in_check_order_named() -> None:
    assert bar_problem(Decimal(0), Decimal(1), Decimal("NaN"), Decimal(1), Decimal(-1)) == (
        "NON_POSITIVE_PRICE",
        "open 0 is not > 0",
    )


def test_tick_problem_when_valid_then_none() -> None:
    assert tick_problem(Decimal("0.01"), Decimal(0)) is None


def test_format_ns_when_fraction_then_trailing_zeros_dropped() -> None:
    assert format_ns(ns("2024-01-02T10:00:00") + 120_000_000) == "2024-01-02T10:00:00.12Z"
    assert format_ns(ns("2024-01-02T10:00:00") + 5) == "2024-01-02T10:00:00.000000005Z"


def test_line_when_far_longer_than_cap_then_read_past_in_bounded_memory_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    huge = "2024-01-02T10:02:00,10,11,9,10," + "5" * (32 << 20)
    path = write(tmp_path, "huge.csv", HEADER, GOOD_1, huge, GOOD_2, "2024-01-02T10:00:00,1")

    tracemalloc.start()
    try:
        records, rejections = read(path, base_dir=tmp_path, max_line_length=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 4 << 20
    assert [r.ts for r in records] == [ns("2024-01-02T10:00:00"), ns("2024-01-02T10:01:00")]
    assert rejections.counts() == {"LINE_TOO_LONG": 1, "UNPARSEABLE": 1}
    assert [r.getMessage() for r in caplog.records] == [
        "huge.csv:3: line longer than 4096 characters; raise max_line_length of the feed if it is "
        "meant (LINE_TOO_LONG); row skipped",
        "huge.csv:5: expected 6 fields, got 2 (UNPARSEABLE); row skipped",
    ]
    with pytest.raises(
        FatalInputError,
        match=r"^huge\.csv:3: line longer than 4096 characters; raise max_line_length of the feed "
        r"if it is meant$",
    ):
        read(path, base_dir=tmp_path, max_line_length=4096, policy="fail")


def test_line_when_a_field_is_over_128_kib_but_line_within_cap_then_row_checked_and_skipped(
    tmp_path: Path,
) -> None:
    wide = "2024-01-02T10:02:00,10,11,9,10,5," + "x" * (200 << 10)
    path = write(tmp_path, "wide.csv", HEADER, GOOD_1, wide, GOOD_2)

    records, rejections = read(path, base_dir=tmp_path)

    assert [r.ts for r in records] == [ns("2024-01-02T10:00:00"), ns("2024-01-02T10:01:00")]
    assert rejections.counts() == {"UNPARSEABLE": 1}
