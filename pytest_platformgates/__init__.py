"""pytest-platformgates: quality and security gates as ordinary pytest items.

The public surface for writing a gate: subclass :class:`Gate` (or :class:`FileGate`
for per-file checks, which the core caches), declare its :class:`Option` schema,
and return it from a ``platformgates_gates`` hook implementation marked with
:data:`hookimpl`.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import ConfigError, Option
    from .gate import FileAnalysis, FileGate, Gate, GateContext, GateError, SessionFacts
    from .hookspecs import hookimpl
    from .inventory import FileStatus, Inventory, InventoryFile
    from .model import Analysis, Finding, GateResult, Severity, Verdict

# Where each public name lives. Imported on first use: pytest imports this package for
# its entry point in every project, gated or not (activation.py), and pays for nothing here.
_HOME = {
    "ConfigError": "config",
    "Option": "config",
    "FileAnalysis": "gate",
    "FileGate": "gate",
    "Gate": "gate",
    "GateContext": "gate",
    "GateError": "gate",
    "SessionFacts": "gate",
    "hookimpl": "hookspecs",
    "FileStatus": "inventory",
    "Inventory": "inventory",
    "InventoryFile": "inventory",
    "Analysis": "model",
    "Finding": "model",
    "GateResult": "model",
    "Severity": "model",
    "Verdict": "model",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Analysis",
    "ConfigError",
    "FileAnalysis",
    "FileGate",
    "FileStatus",
    "Finding",
    "Gate",
    "GateContext",
    "GateError",
    "GateResult",
    "Inventory",
    "InventoryFile",
    "Option",
    "SessionFacts",
    "Severity",
    "Verdict",
    "__version__",
    "hookimpl",
]
