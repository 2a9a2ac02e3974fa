"""Running gates: once per session, judged, whatever goes wrong inside them.

This is the one place that knows when a gate runs. Gate items ask for a result;
the runner computes it at most once (the inventory too) and turns any exception
into an error verdict, so no failure inside a gate can read as a pass.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Mapping

from .cache import ResultCache
from .config import Settings
from .gate import Gate, GateContext, GateError
from .inventory import Inventory
from .model import Analysis, GateResult


class GateRunner:
    """Computes each gate's :class:`GateResult` on demand, at most once per session."""

    def __init__(
        self, settings: Settings, gates: Mapping[str, Gate], cache: ResultCache | None
    ) -> None:
        self.settings = settings
        self.gates = dict(gates)
        self.cache = cache
        self._inventory: Inventory | None = None
        self._results: dict[str, GateResult] = {}
        self._lock = threading.Lock()

    @property
    def inventory(self) -> Inventory:
        with self._lock:
            if self._inventory is None:
                self._inventory = Inventory.scan(
                    self.settings.root,
                    paths=self.settings.paths,
                    exclude=[*self.settings.exclude, *_own_output(self.settings)],
                    max_file_size=self.settings.max_file_size,
                )
            return self._inventory

    def result(self, name: str) -> GateResult:
        if name not in self._results:
            self._results[name] = self._run(name)
        return self._results[name]

    def _run(self, name: str) -> GateResult:
        gate = self.gates[name]
        gate_settings = self.settings.gates[name]
        start = time.perf_counter()
        try:
            ctx = GateContext(
                settings=gate_settings,
                project=self.settings,
                inventory=self.inventory,
                cache=self.cache,
            )
            analysis = gate.check(ctx)
            if not isinstance(analysis, Analysis):
                raise TypeError(f"check() returned {type(analysis).__name__}, not Analysis")
        except GateError as exc:
            analysis = Analysis(problems=(str(exc),))
        except Exception as exc:
            tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
            analysis = Analysis(
                problems=(f"internal error in gate {name!r}: {type(exc).__name__}: {exc}\n{tail}",)
            )
        if self.settings.policy is not None:
            # Waivers apply to every gate alike, third-party ones included (waivers.py).
            analysis = self.settings.policy.waive(name, analysis, gate_settings.fail_on)
        return GateResult.judge(
            name, analysis, gate_settings.fail_on, duration=time.perf_counter() - start
        )


def _own_output(settings: Settings) -> list[str]:
    """The evidence bundle and its staging siblings: our own output is never a gate's input."""
    try:
        rel = settings.evidence_dir.relative_to(settings.root).as_posix()
    except ValueError:
        return []
    parent, _, name = rel.rpartition("/")
    prefix = f"/{parent}/" if parent else "/"
    return [f"/{rel}", f"{prefix}.{name}.partial-*", f"{prefix}.{name}.old-*"]
