"""The platformgates plugin family: one pluggy PluginManager per session.

Built-in gates are modules listed in :data:`~.gates.BUILTIN` and registered like
any other plugin, the way pytest registers its own default plugins; installed
packages join through the ``platformgates`` entry-point group; a project adds
modules of its own with the ``plugins`` configuration key.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .config import ConfigError
from .gate import Gate
from .gates import BUILTIN, DECLARED
from .locate import locate

ENTRY_POINT_GROUP = "platformgates"


def create_plugin_manager(
    extra_modules: Sequence[str] = (), root: Path | None = None
) -> pluggy.PluginManager:
    """Build the manager: hookspecs, built-in gates, entry points, then project modules."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in (*BUILTIN, *DECLARED):
        pm.register(importlib.import_module(name), name=name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:
        raise ConfigError(
            f"a plugin from the {ENTRY_POINT_GROUP!r} entry-point group failed to load: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    for name in extra_modules:
        if pm.get_plugin(name) is not None:
            continue
        pm.register(_import(name, root), name=name)
    pm.check_pending()
    return pm


def _import(name: str, root: Path | None) -> object:
    # Like a rootdir conftest, a project's own plugin module is importable from its root.
    added = root is not None and str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    except Exception as exc:
        message = (
            f"tool.platformgates.plugins: cannot import {name!r}: {type(exc).__name__}: {exc}; "
            "a plugin is a module at the project root or in an installed package: check the "
            "name, or install the package that provides it"
        )
        where = f"{locate(root / 'pyproject.toml', message)}: " if root is not None else ""
        raise ConfigError(where + message) from exc
    finally:
        if added:
            sys.path.remove(str(root))


def collect_gates(pm: pluggy.PluginManager, table: Mapping[str, Any]) -> dict[str, Gate]:
    """Every gate the registered plugins provide, by name; a name given twice is an error."""
    gates: dict[str, Gate] = {}
    for provided in pm.hook.platformgates_gates(table=table):
        for gate in provided or ():
            if not isinstance(gate, Gate):
                raise ConfigError(f"platformgates_gates returned {gate!r}, which is not a Gate")
            if not gate.name or not gate.name.replace("-", "_").isidentifier():
                raise ConfigError(f"gate {gate!r} has an invalid name {gate.name!r}")
            if gate.name in gates:
                raise ConfigError(
                    f"two plugins provide a gate named {gate.name!r}: "
                    f"{gates[gate.name]!r} and {gate!r}"
                )
            gates[gate.name] = gate
    return gates
