"""What a gate is: a named check with its own configuration schema.

A gate never formats output, never decides a verdict and never knows where or when
it runs: it turns the shared context into an :class:`~.model.Analysis`; the core
applies the severity policy, caches, reports and writes evidence.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from .cache import FileResult
from .model import Analysis, Finding, Severity, with_fingerprints

if TYPE_CHECKING:
    from .cache import ResultCache
    from .config import GateSettings, Option, Settings
    from .inventory import Inventory, InventoryFile


class GateError(Exception):
    """The gate could not judge: a tool is missing, crashed, timed out or spoke nonsense."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message}\n{self.detail}" if self.detail else self.message


T = TypeVar("T")


class SessionFacts:
    """Facts several gates of one session need, each computed once (thread-safe).

    The deps, licences and SBOM gates all list the same interpreter's distributions;
    listing it once per session instead of once per gate saves a Python start and a
    walk over every ``.dist-info``. A failed computation is not remembered: the next
    gate that asks tries again, and fails with its own message.
    """

    def __init__(self, keep: Path | None = None) -> None:
        #: where a fact that can tell by itself whether it still holds may be kept for the
        #: next session (the result cache's directory), or None to keep nothing
        self.keep = keep
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed by ``compute`` the first time it is asked for.

        Callers must treat the value as read-only: every gate of the session shares it.
        """
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # a second gate asking meanwhile waits instead of computing it again
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class GateContext:
    """Everything a gate may read: its settings, the project's, the shared inventory."""

    settings: GateSettings
    project: Settings
    inventory: Inventory
    cache: ResultCache | None = None
    notes: list[str] = field(default_factory=list)
    #: shared by every gate of the session (see :class:`SessionFacts`)
    facts: SessionFacts = field(default_factory=SessionFacts)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def timeout(self) -> float:
        return self.settings.timeout


class Gate:
    """Base class of every gate. Subclasses set ``name`` and implement :meth:`check`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[Sequence[Option]] = ()
    #: Whether :meth:`check` reads ``ctx.inventory``. A gate that judges the environment
    #: or the history (deps, licences, SBOM, commits) says False and starts without
    #: waiting for the project's files to be listed and hashed; its ``ctx.inventory``
    #: then holds no files and a problem saying so, so a wrong declaration errors.
    reads_files: ClassVar[bool] = True

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        """Check combinations of options; raise :class:`~.config.ConfigError` when impossible."""

    def check(self, ctx: GateContext) -> Analysis:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


@dataclass(frozen=True)
class FileAnalysis:
    """A file gate's findings for the files it was handed, plus anything that went wrong.

    Everything per file is cached with the file: ``skipped`` names files the tool
    deliberately left out under its own configuration (path -> reason), and
    ``file_figures`` holds per-file counts that the core sums over all files, cached or
    not. ``figures`` describe this invocation only and are not cached.
    """

    findings: Sequence[Finding] = ()
    problems: Sequence[str] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    file_figures: Mapping[str, Mapping[str, int | float]] = field(default_factory=dict)
    figures: Mapping[str, int | float | str] = field(default_factory=dict)


class FileGate(Gate):
    """A gate whose findings for a file depend only on that file (and the settings).

    The core does the rest: selecting the gate's files from the inventory, failing
    on files in scope that it cannot read, and caching findings per file so that an
    unchanged file is never analysed twice.
    """

    patterns: ClassVar[tuple[str, ...]] = ("*",)
    unscannable_severity: ClassVar[Severity] = Severity.CRITICAL
    #: For a gate whose :meth:`unscannable` skips some files knowingly: the figure that
    #: counts them and the words of the note that names them.
    skipped_unreadable: ClassVar[tuple[str, str] | None] = None

    def selects(self, file: InventoryFile) -> bool:
        return any(fnmatchcase(file.name, p) for p in self.patterns)

    def nothing_scanned(self, figures: Mapping[str, int | float | str], ctx: GateContext) -> str:
        """The problem of a run whose tool, by its own configuration, scanned no file.

        A gate that can name the setting that did it says so instead.
        """
        return (
            f"the tool scanned none of the {figures['files_checked']} file(s) in scope: its "
            "own configuration skipped them all (named in the note), so nothing was looked "
            "at; change that configuration, or disable the gate deliberately"
        )

    def tool_versions(self, ctx: GateContext) -> Mapping[str, str]:
        """Versions of the tools used; a change invalidates the cache."""
        return {}

    def cache_inputs(self, ctx: GateContext) -> Mapping[str, str]:
        """Anything besides the file and settings that changes results (a tool's config)."""
        return {}

    def analyse(self, files: Sequence[InventoryFile], ctx: GateContext) -> FileAnalysis:
        raise NotImplementedError

    def unscannable(self, file: InventoryFile) -> Finding | None:
        """The finding for a selected file the gate cannot read; None to skip it knowingly."""
        from .inventory import FileStatus

        if file.status is FileStatus.LINK:
            return None  # the target is checked in its own right
        return Finding(
            gate=self.name,
            rule="unscannable-file",
            severity=self.unscannable_severity,
            path=file.path,
            line=0,
            message=f"cannot be checked: {file.status.value} ({file.detail})",
            hint="fix the file, or exclude it explicitly with `exclude` if it is not source",
        )

    def _unchecked_link_targets(
        self, selected: Sequence[InventoryFile], inventory: Inventory
    ) -> list[Finding]:
        """Links this gate skips whose target it does not check either.

        ``impl.py -> impl.txt`` is imported as Python, yet a ``*.py`` gate would skip the
        link and never select the target; the same holds for a target outside ``paths``.
        """
        from .inventory import FileStatus

        checked = {f.path for f in selected}
        findings = []
        for f in selected:
            if f.status is not FileStatus.LINK or self.unscannable(f) is not None:
                continue
            target = (inventory.root / f.path).resolve()
            try:
                rel = target.relative_to(inventory.root).as_posix()
            except ValueError:
                rel = str(target)
            if target.is_dir() or rel in checked:
                continue
            findings.append(
                Finding(
                    gate=self.name,
                    rule="unscannable-file",
                    severity=self.unscannable_severity,
                    path=f.path,
                    line=0,
                    message=f"cannot be checked: a symlink to {rel}, which this gate does not "
                    "check (another file type, or out of scope)",
                    hint="check the target under its own name, or exclude the link explicitly",
                )
            )
        return findings

    def check(self, ctx: GateContext) -> Analysis:
        from .cache import entry_key
        from .inventory import FileStatus

        inventory = ctx.inventory
        if inventory.problems:
            return Analysis(problems=inventory.problems)
        selected = [f for f in inventory.files if self.selects(f)]
        if not selected:
            unmatched = ""
            if inventory.unmatched:
                shown = ", ".join(repr(p) for p in inventory.unmatched)
                unmatched = (
                    f" `paths` entries that match no file: {shown} (paths are relative to "
                    f"the project root, {inventory.root})."
                )
            return Analysis(
                problems=(
                    f"no files to check: none of the {len(inventory.files)} files in scope "
                    f"match {', '.join(self.patterns)}.{unmatched} Check `paths`/`exclude`, "
                    "or set `enabled = false` for this gate if the project has none.",
                )
            )
        readable = [f for f in selected if f.status is FileStatus.TEXT]
        findings: list[Finding] = []

        versions = dict(self.tool_versions(ctx))
        salt = entry_key(
            self.name,
            repr(sorted(versions.items())),
            ctx.settings.digest(),
            repr(sorted(self.cache_inputs(ctx).items())),
        )
        cached: dict[str, FileResult] = {}
        if ctx.cache is not None:
            cached, note = ctx.cache.load(self.name)
            if note:
                ctx.notes.append(note)
        fresh: dict[str, FileResult] = {}

        # What to do with a file the gate cannot read depends on that file's name and
        # state alone, and deciding may need the tool itself: cached like a finding.
        decisions: list[str] = []
        knowingly: list[str] = []
        for f in selected:
            if f.status is FileStatus.TEXT:
                continue
            key = entry_key(salt, "unscannable", f.path, f.status.value, f.detail)
            decisions.append(key)
            if key in cached:
                decided = cached[key].findings
            else:
                u = self.unscannable(f)
                decided = (u,) if u is not None else ()
                fresh[key] = FileResult(findings=decided)
            findings.extend(decided)
            if not decided and f.status is not FileStatus.LINK:
                knowingly.append(f.path)
        findings.extend(self._unchecked_link_targets(selected, inventory))

        keys = {f.path: entry_key(salt, f.path, f.sha256) for f in readable}
        misses = [f for f in readable if keys[f.path] not in cached]
        analysed = self.analyse(misses, ctx) if misses else FileAnalysis()

        by_path: dict[str, list[Finding]] = {f.path: [] for f in misses}
        for finding in analysed.findings:
            by_path.setdefault(finding.path, []).append(finding)
        for path, file_findings in by_path.items():
            if file_findings and path in inventory.by_path:
                lines = inventory.read_text(inventory.by_path[path]).splitlines()
                file_findings = with_fingerprints(file_findings, lines)
            fresh_result = FileResult(
                findings=tuple(file_findings),
                skipped=analysed.skipped.get(path, ""),
                figures=dict(analysed.file_figures.get(path, {})),
            )
            if path in keys:
                fresh[keys[path]] = fresh_result
            else:  # a finding about a file outside the selection: keep it, never cache it
                findings.extend(file_findings)

        per_file = [fresh.get(keys[f.path]) or cached[keys[f.path]] for f in readable]
        skipped: list[str] = []
        totals: dict[str, int | float] = {}
        for f, entry in zip(readable, per_file, strict=True):
            findings.extend(entry.findings)
            if entry.skipped:
                skipped.append(f"{f.path} ({entry.skipped})")
            for key, value in entry.figures.items():
                totals[key] = totals.get(key, 0) + value

        # A run with problems may have missed findings: never remember it as clean.
        if ctx.cache is not None and fresh and not analysed.problems:
            live = {*keys.values(), *decisions}
            merged = {k: v for k, v in cached.items() if k in live}
            merged.update(fresh)
            note = ctx.cache.save(self.name, merged)
            if note:
                ctx.notes.append(note)
        if skipped:
            listed = ", ".join(skipped[:10]) + (" ..." if len(skipped) > 10 else "")
            ctx.notes.append(
                f"{len(skipped)} file(s) skipped by the tool's own configuration: {listed}"
            )
        figures: dict[str, int | float | str] = {
            "files_checked": len(selected),
            "files_analysed": len(misses),
            "files_cached": len(readable) - len(misses),
            "files_skipped": len(skipped),
        }
        figures.update(totals)
        figures.update(analysed.figures)
        if knowingly and self.skipped_unreadable is not None:
            figure, described = self.skipped_unreadable
            figures[figure] = len(knowingly)
            listed = ", ".join(knowingly[:10]) + (" ..." if len(knowingly) > 10 else "")
            ctx.notes.append(f"{len(knowingly)} {described}: {listed}")
        problems = tuple(analysed.problems)
        # Files in scope, none of them scanned, nothing found: a pass would vouch for files
        # nobody looked at. Cached skips count too, so a warm run errors as the cold one.
        if selected and len(readable) == len(skipped) and not findings and not problems:
            problems = (self.nothing_scanned(figures, ctx),)
        return Analysis(
            findings=tuple(findings),
            problems=problems,
            figures=figures,
            tool_versions=versions,
            notes=tuple(ctx.notes),
        )
