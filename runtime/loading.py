"""Import objects named ``module:attribute`` in config, with errors that say what to fix."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ("load_object",)


def load_object(path: str, *, key: str, search: Sequence[Path] = ()) -> Any:
    """Return the object at ``path`` (``package.module:Name``); ``key`` names the config key.

    A module not on the import path is looked for in the ``search`` directories, in order
    (``name.py`` or ``name/__init__.py``), and imported from that file without changing
    ``sys.path``.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"{key}: expected 'module:Name', got {path!r}")
    module = _import(module_name, key, search)
    try:
        obj = module
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        raise ValueError(f"{key}: module {module_name!r} has no attribute {attribute!r}") from None
    return obj


def _import(module_name: str, key: str, search: Sequence[Path]) -> ModuleType:
    top = module_name.partition(".")[0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != top or not search:  # the module was found; something it imports was not
            raise ValueError(
                f"{key}: cannot import module {module_name!r}: {exc}{_moved(module_name)}"
            ) from None
    except ImportError as exc:
        raise ValueError(f"{key}: cannot import module {module_name!r}: {exc}") from None
    places = list(dict.fromkeys(directory.resolve() for directory in search))
    for directory in places:
        for file in (directory / f"{top}.py", directory / top / "__init__.py"):
            if file.is_file():
                return _import_from(file, module_name, key)
    where = ", ".join(str(directory) for directory in places)
    raise ValueError(
        f"{key}: cannot import module {module_name!r}: not on the import path, and no "
        f"{top}.py or {top}/__init__.py in {where}; put it beside the config file or install it"
        f"{_moved(module_name)}"
    )


def _moved(module_name: str) -> str:
    """A hint for a path written before Atrium's modules moved under ``atrium.``."""
    if module_name.partition(".")[0] not in {"actors", "config", "runtime"}:
        return ""
    return f" (Atrium's own modules are under 'atrium.': write 'atrium.{module_name}')"


def _import_from(file: Path, module_name: str, key: str) -> ModuleType:
    """Import the top-level module of ``module_name`` from ``file``, then the rest by name."""
    top = module_name.partition(".")[0]
    spec = importlib.util.spec_from_file_location(top, file)
    assert spec is not None and spec.loader is not None  # a .py file always has one
    module = importlib.util.module_from_spec(spec)
    sys.modules[top] = module  # as an import does: its classes name it as their module
    try:
        spec.loader.exec_module(module)
        return importlib.import_module(module_name)
    except ImportError as exc:
        sys.modules.pop(top, None)
        raise ValueError(
            f"{key}: cannot import module {module_name!r} from {file}: {exc}"
        ) from None
    except BaseException:
        sys.modules.pop(top, None)
        raise
