"""pytest-platformgates: quality and security gates as ordinary pytest items.

The public surface for writing a gate: subclass :class:`Gate` (or :class:`FileGate`
for per-file checks, which the core caches), declare its :class:`Option` schema,
and return it from a ``platformgates_gates`` hook implementation marked with
:data:`hookimpl`.
"""

__version__ = "0.1.0"

from .config import ConfigError, Option
from .gate import FileAnalysis, FileGate, Gate, GateContext, GateError, SessionFacts
from .hookspecs import hookimpl
from .inventory import FileStatus, Inventory, InventoryFile
from .model import Analysis, Finding, GateResult, Severity, Verdict

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
