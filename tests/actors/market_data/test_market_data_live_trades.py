"""Parsing trade-stream messages: exact decimals, the combined wrapper, every rejection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atrium.actors.market_data.live_trades import Parsed, Trade, VenueError, parse_message

BASE = '"e": "trade", "s": "BTCUSDT"'


def test_parse_when_trade_has_decimal_strings_then_exact_values_and_ns_time() -> None:
    parsed = parse_message(f'{{{BASE}, "p": "0.10000000", "q": "12.5", "T": 1672515782136}}')

    assert parsed == Trade("BTCUSDT", 1672515782136 * 10**6, Decimal("0.1"), Decimal("12.5"), None)


def test_parse_when_numbers_are_json_numbers_then_read_from_their_text_not_a_float() -> None:
    parsed = parse_message(f'{{{BASE}, "p": 0.1, "q": 3, "T": 5, "t": 77}}'.encode())

    assert isinstance(parsed, Trade)
    # Through a float 0.1 would be 0.1000000000000000055511151231257827...
    assert (parsed.price, parsed.size, parsed.trade_id) == (Decimal("0.1"), Decimal(3), 77)
    assert str(parsed.price) == "0.1"


def test_parse_when_combined_stream_wrapper_then_the_inner_trade() -> None:
    raw = f'{{"stream": "btcusdt@trade", "data": {{{BASE}, "p": "1", "q": "2", "T": 3}}}}'

    assert parse_message(raw) == Trade("BTCUSDT", 3 * 10**6, Decimal(1), Decimal(2), None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"result": null, "id": 1}', None),
        ('{"e": "aggTrade", "s": "BTCUSDT"}', None),
        ('{"error": {"code": 1}, "id": 2}', VenueError("venue error {'code': 1} (request id 2)")),
        ('{"stream": "x", "data": [1]}', ("UNPARSEABLE", "expected a JSON object, got list")),
        ('"trade"', ("UNPARSEABLE", "expected a JSON object, got str")),
        ('{"e": "trade", "s": "", "p": "1", "q": "1", "T": 1}', ("UNPARSEABLE", "field s: expected a symbol, got ''")),
        (f'{{{BASE}, "q": "1", "T": 1}}', ("UNPARSEABLE", "field p is missing")),
        (f'{{{BASE}, "p": true, "q": "1", "T": 1}}', ("UNPARSEABLE", "field p: expected a decimal number, got True")),
        (f'{{{BASE}, "p": "1", "q": null, "T": 1}}', ("UNPARSEABLE", "field q: expected a decimal number, got None")),
        (f'{{{BASE}, "p": "1", "q": "1", "T": 1.5}}', ("UNPARSEABLE", "field T: expected integer milliseconds, got Decimal('1.5')")),
        (f'{{{BASE}, "p": "1", "q": "1", "T": -1}}', ("UNPARSEABLE", "field T: expected integer milliseconds >= 0, got -1")),
        (f'{{{BASE}, "p": "1", "q": "1", "T": 1, "t": "9"}}', ("UNPARSEABLE", "field t: expected an integer trade id, got '9'")),
        (f'{{{BASE}, "p": "0", "q": "1", "T": 1}}', ("NON_POSITIVE_PRICE", "price 0 is not > 0")),
        (f'{{{BASE}, "p": "Infinity", "q": "1", "T": 1}}', ("NON_FINITE_PRICE", "price Infinity is not finite")),
        (f'{{{BASE}, "p": "1", "q": "NaN", "T": 1}}', ("NON_FINITE_VOLUME", "size NaN is not finite")),
    ],
)  # fmt: skip
def test_parse_when_message_is_not_a_valid_trade_then_nothing_a_venue_error_or_the_problem(
    raw: str, expected: Parsed
) -> None:
    assert parse_message(raw) == expected
