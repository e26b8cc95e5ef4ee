"""The cluster tests run one after another on one pytest-xdist worker (``--dist
loadgroup``): each starts a NATS server and several role processes and waits on them,
and two such tests at once on two cores would measure each other. The other tests run
beside them on the other worker."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before xdist names each item after its group
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.xdist_group("cluster"))
