"""The words a failed state check logs: every difference, a missing position as 0."""

from __future__ import annotations

from atrium.runtime.cluster.state import StateCheck


def test_the_same_portfolio_has_no_difference() -> None:
    check = StateCheck(seq=7, cash="100.50", positions={"a/NVDA": "10"})
    assert check.difference(StateCheck(seq=7, cash="100.50", positions={"a/NVDA": "10"})) is None


def test_every_difference_is_named_rebuilt_against_recorded() -> None:
    rebuilt = StateCheck(seq=7, cash="90.00", positions={"a/NVDA": "10", "b/ORCL": "5"})
    recorded = StateCheck(seq=7, cash="100.00", positions={"a/NVDA": "20", "c/AAA": "-3"})
    assert rebuilt.difference(recorded) == (
        "cash 90.00 against 100.00; a/NVDA 10 against 20; b/ORCL 5 against 0; c/AAA 0 against -3"
    )
