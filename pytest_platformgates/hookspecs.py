"""The hooks of the platformgates plugin family.

Built-in gates implement these exactly as a third-party package does: a module
with ``@hookimpl`` functions, registered by name (built-ins), through the
``platformgates`` entry-point group (installed packages), or through the
``plugins`` configuration key (a module of the project).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .config import Settings
    from .gate import Gate
    from .model import GateResult

PROJECT = "platformgates"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def platformgates_gates(table: Mapping[str, Any]) -> Sequence[Gate]:
    """Return the gates this plugin provides.

    Every returned :class:`~pytest_platformgates.Gate` becomes a configurable table
    ``[tool.platformgates.gates.<name>]`` and, when enabled, one test item.
    Two plugins providing the same gate name is a usage error. ``table`` is the raw,
    not yet validated ``[tool.platformgates]`` table, for plugins whose gates are
    declared in configuration (an implementation need not accept it).
    """


@hookspec
def platformgates_gate_finished(result: GateResult, settings: Settings) -> None:
    """Called once per gate with its judged result, in the process that owns the session.

    Under pytest-xdist this runs on the controller, so writers of reports and
    evidence see every gate exactly once whichever worker ran it.
    """


@hookspec
def platformgates_session_finished(results: Sequence[GateResult], settings: Settings) -> None:
    """Called at the end of a session with the results of every gate that ran.

    Evidence writers implement this; they read results and the effective
    settings, never a gate's internals.
    """
