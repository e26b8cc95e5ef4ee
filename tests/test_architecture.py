"""The layering rules of the design, checked on the source: layers point one way."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_ACTOR_MODULES = {"atrium.actors.indicators"}


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
    """``runtime``, ``actors`` or ``config`` for a name in one of Atrium's packages."""
    parts = name.split(".")
    if parts[0] != "atrium" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in {"runtime", "actors", "config"} else None


def _all_modules() -> list[Path]:
    folders = ("runtime", "actors", "config", "tests", "bench")
    return [path for folder in folders for path in _modules(folder)]


@pytest.mark.parametrize("path", _all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_when_checked_then_name_atrium_packages_in_full(path: Path) -> None:
    """``import runtime`` would load a second copy of a module (or a user's own ``config``)."""
    bare = {
        name
        for name in _imports(path)
        if name.split(".", maxsplit=1)[0] in {"runtime", "actors", "config"}
    }
    assert bare == set()


def test_ours_when_given_names_then_tells_packages_apart() -> None:
    assert _ours("atrium.actors.risk") == "actors"
    assert _ours("atrium.runtime") == "runtime"
    assert _ours("actors.risk") is None
    assert _ours("anyio") is None


@pytest.mark.parametrize("path", _modules("config"), ids=lambda p: str(p.relative_to(ROOT)))
def test_config_when_imports_checked_then_imports_nothing_of_ours_but_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) not in (None, "config")} == set()


@pytest.mark.parametrize("path", _modules("runtime"), ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_when_imports_checked_then_only_runtime_and_config(path: Path) -> None:
    assert {name for name in _imports(path) if _ours(name) == "actors"} == set()


@pytest.mark.parametrize("path", _modules("actors"), ids=lambda p: str(p.relative_to(ROOT)))
def test_actor_when_imports_checked_then_never_imports_another_actor(path: Path) -> None:
    relative = path.relative_to(ROOT).with_suffix("")
    own = ".".join(("atrium", *relative.parts[:2]))
    foreign = {
        name
        for name in _imports(path)
        if name.startswith("atrium.actors.")
        and not name.startswith(own)
        and ".".join(name.split(".")[:3]) not in SHARED_ACTOR_MODULES
    }
    assert foreign == set()


@pytest.mark.parametrize("package", ["atrium.runtime", "atrium.config", "atrium.actors.indicators"])
def test_public_names_when_listed_in_all_then_exist(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", ())
    assert isinstance(exported, tuple)
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == []
