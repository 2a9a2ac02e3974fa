"""Running gates: once per session, judged, whatever goes wrong inside them.

This is the one place that knows when a gate runs. Gate items ask for a result;
the runner computes it at most once (the inventory too) and turns any exception
into an error verdict, so no failure inside a gate can read as a pass.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import baseline, process
from .cache import ResultCache
from .config import Settings
from .gate import FileGate, Gate, GateContext, GateError, SessionFacts
from .inventory import Inventory, StatCache
from .model import Analysis, GateResult

if TYPE_CHECKING:
    from .background import BackgroundGates

# Seconds an interrupted session waits for its stopped gates to return.
STOP_WAIT = 10.0


@dataclass(frozen=True)
class PartialScan:
    """``--gates-changed``: file gates see only the files changed since ``base``.

    Gates that judge the project as a whole (dependencies, licences, the SBOM) still
    see every file: a lock file is not "changed lines". Every result that saw fewer
    files says so in a note, and the terminal summary says the scan was partial.
    """

    base: str
    commit: str
    paths: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"partial scan (--gates-changed): only the {len(self.paths)} file(s) changed "
            f"since {self.base} ({self.commit[:12]}) were checked"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "commit": self.commit, "paths": list(self.paths)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartialScan:
        return cls(str(data["base"]), str(data["commit"]), tuple(map(str, data["paths"])))


#: Beside the gates' result documents: the inventory's file metadata (see StatCache).
STATS = "inventory.d.json"


class GateRunner:
    """Computes each gate's :class:`GateResult` on demand, at most once per session."""

    def __init__(
        self,
        settings: Settings,
        gates: Mapping[str, Gate],
        cache: ResultCache | None,
        *,
        partial: PartialScan | None = None,
    ) -> None:
        self.settings = settings
        self.gates = dict(gates)
        self.cache = cache
        self.partial = partial
        # Set when the gates run in a background process (background.py).
        self.background: BackgroundGates | None = None
        self._inventories: dict[bool, Inventory] = {}
        self._facts = SessionFacts(cache.directory if cache is not None else None)
        self._results: dict[str, GateResult] = {}
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._futures: dict[str, concurrent.futures.Future[GateResult]] = {}

    @property
    def inventory(self) -> Inventory:
        """Every file in scope."""
        return self._scan(narrow=False)

    def inventory_for(self, gate: Gate) -> Inventory:
        """The files ``gate`` sees: only the changed ones for a file gate on a partial scan."""
        return self._scan(narrow=self.partial is not None and isinstance(gate, FileGate))

    def _scan(self, narrow: bool) -> Inventory:
        with self._lock:
            if narrow not in self._inventories:
                self._inventories[narrow] = Inventory.scan(
                    self.settings.root,
                    paths=self.settings.paths,
                    exclude=[
                        *self.settings.exclude,
                        *_own_output(self.settings),
                        *baseline.own_files(self.settings),
                    ],
                    max_file_size=self.settings.max_file_size,
                    only=self.partial.paths if narrow and self.partial is not None else None,
                    stats=StatCache(self.cache.directory / STATS) if self.cache else None,
                )
            return self._inventories[narrow]

    def _unlisted(self, name: str) -> Inventory:
        """What a gate that declared ``reads_files = False`` gets: no files, and a problem."""
        return Inventory(
            root=self.settings.root,
            files=(),
            source="none",
            problems=(
                f"gate {name!r} declares reads_files = False, so the file inventory was not "
                "listed for it; a gate that reads ctx.inventory must leave reads_files True",
            ),
        )

    def _cache_for(self, gate: Gate) -> ResultCache | None:
        # A file gate on a partial scan prunes what it did not see: keep those entries.
        if self.cache is not None and self.partial is not None and isinstance(gate, FileGate):
            return self.cache.keeping()
        return self.cache

    def not_evaluated(self, name: str) -> str:
        """Why ``name`` has nothing to judge on this partial scan; empty when it has."""
        gate = self.gates[name]
        if self.partial is None or not isinstance(gate, FileGate):
            return ""
        inventory = self.inventory_for(gate)
        if inventory.problems or any(gate.selects(f) for f in inventory.files):
            return ""
        return (
            f"not evaluated: none of the {len(self.partial.paths)} file(s) changed since "
            f"{self.partial.base} ({self.partial.commit[:12]}) is one this gate checks "
            "(--gates-changed)"
        )

    def longest_first(self, names: Sequence[str]) -> list[str]:
        """``names`` by how long each took lately, unknown ones first: side by side, the
        longest gate started first bounds the wall time best."""
        took = self.cache.timings() if self.cache is not None else {}
        return sorted(names, key=lambda n: -took.get(n, float("inf")))

    def prefetch(self, names: Sequence[str], workers: int) -> None:
        """Start computing ``names`` now, ``workers`` at a time, in threads of this process.

        For runs with no tests to overlap (``--gates-only``): gates spend much of their
        time waiting for their tools, so several at once finish sooner than one by one.
        """
        if not names:
            return
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max(1, min(workers, len(names))), thread_name_prefix="platformgates"
        )
        for name in names:
            self._futures[name] = self._pool.submit(self._compute, name)

    def shutdown(self) -> None:
        """Drop prefetches nobody will take (an interrupted session, ``-x``).

        Gates still running are stopped by killing their tools: otherwise the process
        would wait at exit for each hung tool's ``timeout`` after a Ctrl-C.
        """
        if self._pool is None:
            return
        self._pool.shutdown(wait=False, cancel_futures=True)
        running = [f for f in self._futures.values() if not f.done()]
        if not running:
            return
        process.stop_tools()
        try:
            # Their tools are gone: what is left of each gate is its own Python work.
            concurrent.futures.wait(running, timeout=STOP_WAIT)
        finally:
            process.allow_tools()

    def result(self, name: str) -> GateResult:
        if name not in self._results:
            future = self._futures.get(name)
            if future is not None:
                # Anything the gate raised past the runner (pytest.skip) is raised here.
                # Popped only once taken: a Ctrl-C while waiting leaves it for shutdown().
                self._results[name] = future.result()
                del self._futures[name]
            else:
                # A gate run here may change process-wide state (the coverage gate
                # changes directory): never while prefetched gates are still running.
                concurrent.futures.wait(self._futures.values())
                self._results[name] = self._compute(name)
        return self._results[name]

    def _compute(self, name: str) -> GateResult:
        return self._from_background(name) or self._annotated(name, self._run(name))

    def _annotated(self, name: str, result: GateResult) -> GateResult:
        if self.partial is not None and isinstance(self.gates[name], FileGate):
            return replace(result, notes=(*result.notes, self.partial.describe()))
        return result

    def _from_background(self, name: str) -> GateResult | None:
        """The background process's result; None when the gate must run here instead."""
        if self.background is None or name not in self.background.names:
            return None
        outcome = self.background.take(name)
        if outcome.result is not None:
            return outcome.result
        if outcome.error:
            gate_settings = self.settings.gates[name]
            return GateResult.judge(
                name, Analysis(problems=(outcome.error,)), gate_settings.fail_on, duration=0.0
            )
        # Fail closed: a background run that did not judge never reads as a pass.
        result = self._annotated(name, self._run(name))
        note = f"computed in the test process: {outcome.fallback}"
        return replace(result, notes=(*result.notes, note))

    def _run(self, name: str) -> GateResult:
        gate = self.gates[name]
        gate_settings = self.settings.gates[name]
        start = time.perf_counter()
        try:
            ctx = GateContext(
                settings=gate_settings,
                project=self.settings,
                inventory=self.inventory_for(gate) if gate.reads_files else self._unlisted(name),
                cache=self._cache_for(gate),
                facts=self._facts,
            )
            analysis = gate.check(ctx)
            if not isinstance(analysis, Analysis):
                raise TypeError(f"check() returned {type(analysis).__name__}, not Analysis")
            _check_figures(analysis.figures)
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
        # The committed findings baseline and new_code_only: known debt (baseline.py).
        partial = self.partial is not None and isinstance(gate, FileGate)
        analysis = baseline.apply(self.settings, name, analysis, gate_settings, partial=partial)
        return GateResult.judge(
            name, analysis, gate_settings.fail_on, duration=time.perf_counter() - start
        )


def _check_figures(figures: Mapping[str, Any]) -> None:
    """A figure is a string or a finite number, under a string name: what JSON can hold.

    NaN or infinity would make the evidence invalid JSON (or, refused, lose the bundle
    of every gate), so a gate that reports one errors instead.
    """
    bad = [
        f"{name!r}: {value!r}"
        for name, value in figures.items()
        if not isinstance(name, str)
        or not (
            isinstance(value, str) or (isinstance(value, (int, float)) and math.isfinite(value))
        )
    ]
    if bad:
        raise GateError(
            f"the gate reported figures the evidence cannot record ({', '.join(bad[:5])}): "
            "a figure is a string or a finite number"
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
