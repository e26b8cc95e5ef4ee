"""The layering rules of the design, checked on the source: layers point one way."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_ACTOR_MODULES = {"actors.indicators"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _ours(name: str) -> str | None:
    top = name.split(".", maxsplit=1)[0]
    return top if top in {"runtime", "actors", "config"} else None


@pytest.mark.parametrize("path", _modules("config"), ids=lambda p: str(p.relative_to(ROOT)))
def test_config_when_imports_checked_then_imports_nothing_of_ours_but_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) not in (None, "config")} == set()


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_when_imports_checked_then_only_runtime_and_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) == "actors"} == set()


@pytest.mark.parametrize("path", _modules("actors"), ids=lambda p: str(p.relative_to(ROOT)))
def test_actor_when_imports_checked_then_never_imports_another_actor(path: Path) -> None:
    relative = path.relative_to(ROOT).with_suffix("")
    own = ".".join(relative.parts[:2])
    foreign = {
        name
        for name in _imports(path)
        if name.startswith("actors.")
        and not name.startswith(own)
        and ".".join(name.split(".")[:2]) not in SHARED_ACTOR_MODULES
    }
    assert foreign == set()


@pytest.mark.parametrize("package", ["runtime", "config", "actors.indicators"])
def test_public_names_when_listed_in_all_then_exist(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", ())
    assert isinstance(exported, tuple)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []
