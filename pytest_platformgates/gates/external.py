"""Gates declared in configuration: any scanner that writes SARIF, or any command's exit code.

A table ``[tool.platformgates.gates.<name>]`` with a ``kind`` key declares a gate of
that name: ``kind = "sarif"`` runs a command that writes SARIF 2.1.0 (or reads a log
another CI step wrote, if it is recent enough) and maps its results to findings;
``kind = "command"`` runs a command whose exit code decides. Both take their
command as a list (no shell, so no quoting or injection surprises), and every way
the tool can fail to judge (missing, timed out, an exit code not declared as a
verdict, no or invalid SARIF, a stale file) errors the gate instead of passing it.
With ``paths`` declared, a result is cached under the content of those files.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..cache import FileResult, entry_key
from ..config import ConfigError, Option, _show
from ..gate import Gate, GateContext, GateError
from ..hookspecs import hookimpl
from ..inventory import FileStatus, InventoryFile, glob_to_regex
from ..model import Analysis, Finding, Severity, fingerprint
from ..process import run_tool, stderr_tail
from ..sarif_input import LEVELS, SeverityPolicy, load, read

KINDS = ("sarif", "command")
FILES = "{files}"  # a command argument replaced by the covered files
# Every exit status, signals included: the gate, not run_tool, judges the code.
ANY_CODE = range(-255, 256)
CACHE_ENTRY = "result"
#: Seconds a SARIF file's mtime may lie in the future (clocks of CI machines differ a little).
CLOCK_SKEW = 300


@dataclass(frozen=True)
class TableOption(Option):
    """A TOML table of strings; with ``severity_values`` each value is a severity."""

    keys: tuple[str, ...] = ()
    severity_values: bool = False

    def coerce(self, value: Any, where: str) -> Any:
        key = f"{where}.{self.name}" if where else self.name
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"{key} must be a table of strings, not {_show(value)}")
        out = dict(self.default or {})
        for name, item in value.items():
            if self.keys and name not in self.keys:
                raise ConfigError(
                    f"{key}: unknown key {name!r} (choose from {', '.join(self.keys)})"
                )
            if self.severity_values:
                try:
                    item = Severity.parse(item).label
                except ValueError as exc:
                    raise ConfigError(f"{key}.{name}: {exc}") from None
            out[name] = item
        return out


@dataclass(frozen=True)
class CodesOption(Option):
    """A list of process exit codes."""

    def coerce(self, value: Any, where: str) -> Any:
        key = f"{where}.{self.name}" if where else self.name
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and -255 <= v <= 255 for v in value
        ):
            raise ConfigError(f"{key} must be a list of exit codes (-255..255), not {_show(value)}")
        return sorted(set(value))


COMMON: tuple[Option, ...] = (
    Option("kind", "choice", None, "What the gate reads: `sarif` or `command`.", choices=KINDS),
    Option(
        "command",
        "list[str]",
        None,
        "The command as a list of arguments, run without a shell; an argument `{files}` "
        "becomes the covered files (see `paths`).",
    ),
    Option("cwd", "str", ".", "Directory the command runs in, relative to the project root."),
    TableOption("env", "table", {}, "Environment variables added for the command (not secrets)."),
    Option(
        "paths",
        "list[str]",
        [],
        "The project files the command covers (globs like `paths`). Declared, they must "
        "match a file, and the result is cached until one of them changes.",
    ),
    Option(
        "version_command",
        "list[str]",
        None,
        "A command printing the tool's version: recorded with the result and part of "
        "the cache key, so upgrading the tool re-runs the gate.",
    ),
)

SARIF_OPTIONS: tuple[Option, ...] = (
    Option(
        "sarif_file",
        "str",
        None,
        "The SARIF file, relative to `cwd`: written by `command`, or, without a command, "
        "produced by an earlier CI step. Unset, the command's stdout is the SARIF.",
    ),
    Option(
        "max_age",
        "number",
        3600,
        "Without a command: the oldest `sarif_file` accepted, in seconds.",
        minimum=1,
    ),
    CodesOption(
        "exit_codes", "list[int]", [0], "Exit codes meaning the tool ran (results decide)."
    ),
    TableOption(
        "levels",
        "table",
        {"error": "high", "warning": "medium", "note": "low", "none": "low"},
        "Severity of each SARIF level (error, warning, note, none).",
        keys=LEVELS,
        severity_values=True,
    ),
    Option(
        "security_severity",
        "bool",
        True,
        "Use a result's or rule's `security-severity` score when present (9+ critical, "
        "7+ high, 4+ medium, else low), before the level.",
    ),
    TableOption(
        "rule_severity",
        "table",
        {},
        "Severity by rule id, overriding level and score.",
        severity_values=True,
    ),
)

COMMAND_OPTIONS: tuple[Option, ...] = (
    CodesOption("pass_codes", "list[int]", [0], "Exit codes meaning the check passed."),
    CodesOption(
        "fail_codes",
        "list[int]",
        [1],
        "Exit codes meaning the check found problems; any other code errors the gate.",
    ),
    Option("severity", "severity", "high", "Severity of a failed check."),
    Option(
        "tail_lines",
        "int",
        30,
        "Lines of output shown when the check fails.",
        minimum=1,
        maximum=500,
    ),
)


class ExternalGate(Gate):
    """What both kinds share: the command, where and how it runs, what it covers, the cache."""

    kind: ClassVar[str] = ""

    def __init__(self, name: str, description: str) -> None:
        self.name = name  # type: ignore[misc]  # an instance per configured gate
        self.description = description  # type: ignore[misc]

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        command = values["command"]
        if command is not None and not command:
            raise ConfigError(f"{where}.command must not be empty")
        if values["version_command"] is not None and not values["version_command"]:
            raise ConfigError(f"{where}.version_command must not be empty")
        if command and FILES in command and not values["paths"]:
            raise ConfigError(f"{where}.command uses {FILES} but the gate declares no `paths`")

    def check(self, ctx: GateContext) -> Analysis:
        settings = ctx.settings
        cwd = (ctx.root / settings["cwd"]).resolve()
        if not cwd.is_dir():
            raise GateError(f"cwd {settings['cwd']!r} is not a directory under {ctx.root}")
        covered = self._covered(ctx)
        versions = self._versions(ctx, cwd)
        key = None
        if covered and settings["command"] and ctx.cache is not None:
            key = entry_key(
                self.name,
                ctx.settings.digest(),
                repr(sorted(versions.items())),
                *(f"{f.path}\x00{f.sha256 or f.detail}" for f in covered),
            )
            cached, note = ctx.cache.load(self.name)
            if note:
                ctx.notes.append(note)
            if key in cached:
                ctx.notes.append(
                    f"result reused: none of the {len(covered)} covered files changed "
                    "(pytest --cache-clear runs the command again)"
                )
                return self._analysis(ctx, cached[key], covered, versions, reused=True)
        result, reported = self.evaluate(ctx, cwd, covered)
        versions = {**reported, **versions}
        if key is not None and ctx.cache is not None:
            note = ctx.cache.save(self.name, {key: result})
            if note:
                ctx.notes.append(note)
        return self._analysis(ctx, result, covered, versions, reused=False)

    def evaluate(
        self, ctx: GateContext, cwd: Path, covered: Sequence[InventoryFile]
    ) -> tuple[FileResult, Mapping[str, str]]:
        """Run the check: findings and numeric figures (cached as one unit), tool versions."""
        raise NotImplementedError

    def _analysis(
        self,
        ctx: GateContext,
        result: FileResult,
        covered: Sequence[InventoryFile],
        versions: Mapping[str, str],
        reused: bool,
    ) -> Analysis:
        figures: dict[str, int | float | str] = dict(result.figures)
        if covered:
            figures["files_checked"] = len(covered)
            figures["files_cached"] = len(covered) if reused else 0
        return Analysis(
            findings=result.findings,
            figures=figures,
            tool_versions=dict(versions),
            notes=tuple(ctx.notes),
        )

    def _covered(self, ctx: GateContext) -> list[InventoryFile]:
        patterns = ctx.settings["paths"]
        if not patterns:
            return []
        if ctx.inventory.problems:
            raise GateError(
                "the project's files cannot be listed", "\n".join(ctx.inventory.problems)
            )
        matcher = re.compile("|".join(f"(?:{glob_to_regex(p, True)})" for p in patterns))
        sarif_file = self._own_output(ctx)
        covered = [f for f in ctx.inventory.files if matcher.match(f.path) and f.path != sarif_file]
        if not covered:
            raise GateError(
                f"no files to check: none of the {len(ctx.inventory.files)} files in scope "
                f"match paths = {patterns}; fix `paths`, or disable the gate"
            )
        # Anything with a content hash keys the cache; a link by its target (checked itself).
        unreadable = [f for f in covered if not f.sha256 and f.status is not FileStatus.LINK]
        if unreadable:
            listed = ", ".join(f"{f.path} ({f.status.value})" for f in unreadable[:10])
            raise GateError(
                f"covered files cannot be read, so the result cannot be keyed: {listed}"
            )
        return covered

    def _own_output(self, ctx: GateContext) -> str:
        return ""

    def _versions(self, ctx: GateContext, cwd: Path) -> dict[str, str]:
        argv = ctx.settings["version_command"]
        if not argv:
            return {}
        proc = run_tool(argv, cwd=cwd, timeout=ctx.timeout, env=ctx.settings["env"])
        text = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        if not text:
            raise GateError(f"`{_show_argv(argv)}` printed no version")
        return {Path(argv[0]).name: text[0].strip()[:200]}

    def _run(
        self, ctx: GateContext, cwd: Path, covered: Sequence[InventoryFile]
    ) -> tuple[int, str, str]:
        argv: list[str] = []
        for arg in ctx.settings["command"]:
            if arg == FILES:
                argv.extend(os.path.relpath(ctx.root / f.path, cwd) for f in covered)
            else:
                argv.append(arg)
        proc = run_tool(
            argv, cwd=cwd, timeout=ctx.timeout, ok_codes=ANY_CODE, env=ctx.settings["env"]
        )
        return proc.returncode, proc.stdout, proc.stderr


class SarifGate(ExternalGate):
    """A scanner's SARIF 2.1.0 results as findings, under the gate's severity mapping."""

    kind = "sarif"
    options = COMMON + SARIF_OPTIONS

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        super().validate(values, where)
        if not values["command"] and not values["sarif_file"]:
            raise ConfigError(
                f"{where}: a sarif gate needs a `command` that writes SARIF, a `sarif_file` "
                "another step wrote, or both"
            )

    def _own_output(self, ctx: GateContext) -> str:
        name = ctx.settings["sarif_file"]
        if not name:
            return ""
        full = (ctx.root / ctx.settings["cwd"] / name).resolve()
        try:
            return full.relative_to(ctx.root.resolve()).as_posix()
        except ValueError:
            return ""

    def evaluate(
        self, ctx: GateContext, cwd: Path, covered: Sequence[InventoryFile]
    ) -> tuple[FileResult, Mapping[str, str]]:
        settings = ctx.settings
        target = cwd / settings["sarif_file"] if settings["sarif_file"] else None
        figures: dict[str, int | float] = {}
        if settings["command"]:
            before = _stamp(target) if target is not None else None
            code, stdout, stderr = self._run(ctx, cwd, covered)
            figures["exit_code"] = code
            if code not in settings["exit_codes"]:
                raise GateError(
                    f"`{_show_argv(settings['command'])}` exited with code {code}, not one of "
                    f"exit_codes = {settings['exit_codes']}: the tool failed or reported in a "
                    "way this gate does not read",
                    _tail(stdout, stderr, 20),
                )
            if target is None:
                text, source = stdout, f"the output of `{_show_argv(settings['command'])}`"
            else:
                after = _stamp(target)
                if after is None or after == before:
                    raise GateError(
                        f"`{_show_argv(settings['command'])}` did not write "
                        f"{settings['sarif_file']} (missing or unchanged): its results cannot "
                        "be read",
                        _tail(stdout, stderr, 20),
                    )
                text, source = _read(target, settings["sarif_file"]), settings["sarif_file"]
        else:
            assert target is not None  # validate() requires one of the two
            text, source = _read(target, settings["sarif_file"]), settings["sarif_file"]
            age = time.time() - target.stat().st_mtime
            figures["sarif_age_seconds"] = round(max(age, 0.0), 1)
            if age < -CLOCK_SKEW:
                # a future mtime (a skewed clock, a restored or touched file) would pass any age
                raise GateError(
                    f"{settings['sarif_file']} is dated {-age:.0f} s in the future, so its age "
                    "cannot be judged: check the clocks of the machines involved, and produce "
                    "the file in this pipeline"
                )
            if age > settings["max_age"]:
                raise GateError(
                    f"{settings['sarif_file']} is {age:.0f} s old, older than max_age = "
                    f"{settings['max_age']:g} s: it may describe other code. Produce it in "
                    "this pipeline, just before the tests"
                )
        policy = SeverityPolicy(
            levels=settings["levels"],
            rules=settings["rule_severity"],
            use_security_severity=settings["security_severity"],
        )
        report = read(
            load(text, source),
            gate=self.name,
            source=source,
            policy=policy,
            base=cwd,
            root=ctx.root,
            line_text=_LineReader(ctx),
        )
        figures.update(report.figures)
        return FileResult(findings=report.findings, figures=figures), report.tool_versions


class CommandGate(ExternalGate):
    """A tool without structured output: its exit code decides, its output's tail reports."""

    kind = "command"
    options = COMMON + COMMAND_OPTIONS

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        super().validate(values, where)
        if not values["command"]:
            raise ConfigError(f"{where}: a command gate needs a `command`")
        both = set(values["pass_codes"]) & set(values["fail_codes"])
        if both:
            raise ConfigError(f"{where}: exit code {min(both)} is both a pass and a fail code")
        if not values["pass_codes"]:
            raise ConfigError(f"{where}.pass_codes must name at least one exit code")

    def evaluate(
        self, ctx: GateContext, cwd: Path, covered: Sequence[InventoryFile]
    ) -> tuple[FileResult, Mapping[str, str]]:
        settings = ctx.settings
        shown = _show_argv(settings["command"])
        code, stdout, stderr = self._run(ctx, cwd, covered)
        # The report of a command that judged: its last lines as it wrote them.
        tail = _tail(stdout, stderr, settings["tail_lines"], short_tracebacks=False)
        if code in settings["pass_codes"]:
            return FileResult(figures={"exit_code": code}), {}
        if code not in settings["fail_codes"]:
            raise GateError(
                f"`{shown}` exited with code {code}, which is neither a pass code "
                f"{settings['pass_codes']} nor a fail code {settings['fail_codes']}: the tool "
                "could not judge (a crash or a usage error)",
                tail,
            )
        shown_tail = "\n".join(f"  | {line}" for line in tail.splitlines()) or "  (no output)"
        ctx.notes.append(f"output of `{shown}` (last lines):\n{shown_tail}")
        finding = Finding(
            gate=self.name,
            rule=f"exit-{code}",
            severity=Severity.parse(settings["severity"]),
            path="",
            line=0,
            message=f"`{shown}` exited with code {code}",
            hint="its output is shown below; run the command locally to see all of it",
            fingerprint=fingerprint(self.name, f"exit-{code}", "", shown, 0),
        )
        return FileResult(findings=(finding,), figures={"exit_code": code}), {}


class UnknownKindGate(ExternalGate):
    """A table whose ``kind`` is not one we know: only there to fail validation clearly."""

    options = COMMON + SARIF_OPTIONS + COMMAND_OPTIONS


class _LineReader:
    """Lines of project files, read once each, for fingerprints of tool results."""

    def __init__(self, ctx: GateContext) -> None:
        self.inventory = ctx.inventory
        self.lines: dict[str, list[str] | None] = {}

    def __call__(self, path: str, line: int) -> str | None:
        if path not in self.lines:
            file = self.inventory.by_path.get(path)
            text = (
                self.inventory.read_text(file) if file and file.status is FileStatus.TEXT else None
            )
            self.lines[path] = text.splitlines() if text is not None else None
        lines = self.lines[path]
        if lines is None or not 0 < line <= len(lines):
            return None
        return lines[line - 1]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _read(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GateError(f"the SARIF file {shown} does not exist ({path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GateError(f"the SARIF file {shown} cannot be read: {exc}") from None


def _tail(stdout: str, stderr: str, lines: int, *, short_tracebacks: bool = True) -> str:
    joined = "\n".join(part for part in (stdout, stderr) if part.strip())
    return stderr_tail(joined, lines, short_tracebacks=short_tracebacks)


def _show_argv(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def _describe(kind: object, table: Mapping[str, Any]) -> str:
    command = table.get("command")
    tool = (
        command[0] if isinstance(command, list) and command and isinstance(command[0], str) else ""
    )
    if kind == "sarif":
        return f"SARIF results of {Path(tool).name or table.get('sarif_file', 'a SARIF file')}"
    if kind == "command":
        return f"the exit code of {Path(tool).name or 'a command'}"
    return "a configured gate"


@hookimpl
def platformgates_gates(table: Mapping[str, Any]) -> list[Gate]:
    """One gate per ``[tool.platformgates.gates.<name>]`` table that has a ``kind``."""
    tables = table.get("gates") if isinstance(table, Mapping) else None
    if not isinstance(tables, dict):
        return []  # the core reports a malformed table
    gates: list[Gate] = []
    for name, gate_table in tables.items():
        if not isinstance(gate_table, dict) or "kind" not in gate_table:
            continue
        kind = gate_table["kind"]
        known = {"sarif": SarifGate, "command": CommandGate}
        cls = known.get(kind, UnknownKindGate) if isinstance(kind, str) else UnknownKindGate
        gates.append(cls(name, _describe(kind, gate_table)))
    return gates
