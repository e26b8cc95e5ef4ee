"""The Prometheus binaries the ops tests run: missing, they skip unless CI requires them."""

from __future__ import annotations

import re

import pytest
from ops_kit import binary

MISSING = "atrium-no-such-prometheus-tool"
REASON = (
    f"{MISSING} is not installed: the ops tests need Prometheus's {MISSING}; "
    "install it with `apt-get install prometheus` (Debian/Ubuntu)"
)


def test_binary_when_missing_and_not_required_then_skips_saying_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ATRIUM_REQUIRE_PROMTOOL", raising=False)
    with pytest.raises(pytest.skip.Exception, match=rf"^{re.escape(REASON)}$"):
        binary(MISSING)


def test_binary_when_missing_and_required_then_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATRIUM_REQUIRE_PROMTOOL", "1")
    with pytest.raises(
        pytest.fail.Exception,
        match=rf"^{re.escape(REASON)}; ATRIUM_REQUIRE_PROMTOOL is set$",
    ):
        binary(MISSING)
