"""Handlers are declared with ``@receives``: found by search, never by their names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from atrium.runtime.actor import Actor, receives
from atrium.runtime.messages import Bar, Fill, Tick

D = Decimal


class Declared(Actor):
    @receives(Bar, Tick)
    def _market(self, message: Bar | Tick) -> None:
        """Any name works: the declaration is what counts."""

    def _handle_fill(self, message: Fill) -> None:
        """Named like a handler, not declared: not one."""


class Overridden(Declared):
    def _market(self, message: Bar | Tick) -> None:
        """Overrides the declared method by name: called instead of the base's."""


class Redeclared(Declared):
    @receives(Tick)
    def _ticks_only(self, message: Tick) -> None:
        """A subclass's declaration of a kind wins over the base's."""


def test_declared_method_when_class_made_then_handles_its_kinds_only() -> None:
    assert Declared.handles() == ["Bar", "Tick"]
    assert Declared.handlers == {Bar: Declared._market, Tick: Declared._market}


def test_override_when_not_redeclared_then_called_instead_of_base() -> None:
    assert Overridden.handlers == {Bar: Overridden._market, Tick: Overridden._market}
    assert Overridden._market is not Declared._market


def test_subclass_declaration_when_same_kind_then_wins() -> None:
    assert Redeclared.handlers == {Bar: Declared._market, Tick: Redeclared._ticks_only}


@pytest.mark.parametrize("kinds", [(), (int,), (Bar, D)])
def test_receives_when_not_given_message_classes_then_type_error(kinds: tuple[type, ...]) -> None:
    with pytest.raises(TypeError, match="receives\\(\\) takes message classes"):
        receives(*kinds)
