"""The lint gate: ``ruff check`` and ``ruff format --check`` under the project's own ruff config.

Ruff is given the exact files in scope with ``--force-exclude``, so the project's
``[tool.ruff]`` (or ``ruff.toml``) decides rules and exclusions. Ruff's quiet
passes are closed: a configuration that excludes every file errors, files ruff
excluded are named, and an unparseable file is a critical finding.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import process, redaction
from ..config import Option
from ..gate import FileAnalysis, FileGate, GateContext, GateError
from ..hookspecs import hookimpl
from ..inventory import InventoryFile
from ..model import Analysis, Finding, Severity
from ..process import run_tool, supported_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Rule sets a project can switch on without touching its ruff config.
PRESETS: Mapping[str, tuple[str, ...]] = {
    "no-debug": ("T10", "T20"),  # breakpoint()/pdb, print()/pprint()
    "no-todo": ("FIX",),  # TODO, FIXME, XXX, HACK comments
    "no-blanket-noqa": ("PGH004",),  # suppressions that name no rule codes
}

#: Ruff codes meaning "this file could not be analysed at all".
UNANALYSABLE = {"invalid-syntax", "E999", "E902"}

RUFF_CONFIG_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
#: In one directory, ruff reads the first of these it finds.
RUFF_CONFIG_PRECEDENCE = (".ruff.toml", "ruff.toml", "pyproject.toml")
# Ruff 0.x releases change rules, not the JSON this gate reads; 1.0 may change that.
MIN_RUFF, BELOW_RUFF = "0.9", "1"
ARG_BUDGET = 100_000  # characters of paths per ruff invocation, well under ARG_MAX
PROBE_WORKERS = 8  # ruff processes asked at once whether they lint a file

# A syntax error ruff reports under any rule selection, `noqa` or `per-file-ignores`.
PROBE_SOURCE = "(\n"
PROBE_NOTEBOOK = json.dumps(
    {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": [PROBE_SOURCE],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
)
#: ruff's log under ``-v``: ``[date][time][target][LEVEL] message``, one a line, except
#: that a message naming a file whose name holds a newline goes on over the next line.
RUFF_LOG = re.compile(r"^\[[^\]\n]*\]\[[^\]\n]*\]\[[^\]\n]*\]\[[A-Z]+\] ", re.MULTILINE)
#: What it logs for each file it lints or formats, and its count of them at the end.
LINT_LOG = ("Checking: ", re.compile(r"Checked (\d+) files? in"))
FORMAT_LOG = ("format_path; path=", re.compile(r"Formatted (\d+) files? in"))
#: ruff's warning when its configuration leaves out every file it was given.
NO_FILES = "warning: No Python files found under the given path(s)"
#: ``ruff format --check``'s last line: "1 file would be reformatted, 2 files already formatted".
FORMAT_SUMMARY = re.compile(
    r"(?:(\d+) files? would be reformatted)?(?:, )?(?:(\d+) files? already formatted)?"
)


class LintGate(FileGate):
    name = "lint"
    description = "ruff check and ruff format --check, under the project's own ruff config"
    patterns = ("*.py", "*.pyi", "*.ipynb")
    options = (
        Option(
            "format",
            "bool",
            True,
            "Also require `ruff format --check` to pass (files as ruff format would write them).",
        ),
        Option(
            "presets",
            "list[str]",
            ["no-blanket-noqa"],
            "Rule sets added to the project's ruff selection: "
            + "; ".join(f"{k} = {', '.join(v)}" for k, v in PRESETS.items())
            + ".",
            choices=tuple(PRESETS),
        ),
        Option("severity", "severity", "high", "Severity of a ruff rule violation."),
        Option(
            "ruff",
            "str",
            None,
            "Path of the ruff executable; by default the one of the installed ruff package.",
        ),
        Option("format_severity", "severity", "high", "Severity of a file ruff would reformat."),
    )

    def ruff(self, ctx: GateContext) -> str:
        configured = ctx.settings["ruff"]
        if configured:
            return str(configured)
        try:
            from ruff.__main__ import find_ruff_bin
        except ImportError:
            raise GateError("ruff is not installed: `pip install ruff`") from None
        try:
            return str(find_ruff_bin())
        except FileNotFoundError:
            raise GateError("the ruff package is installed but its binary is missing") from None

    def tool_versions(self, ctx: GateContext) -> Mapping[str, str]:
        proc = run_tool([self.ruff(ctx), "--version"], cwd=ctx.root, timeout=ctx.timeout)
        version = proc.stdout.strip().removeprefix("ruff ").strip()
        return {"ruff": supported_version("ruff", version, MIN_RUFF, BELOW_RUFF)}

    def cache_inputs(self, ctx: GateContext) -> Mapping[str, str]:
        """Ruff's configuration files: editing one must re-lint every file."""
        configs = self._configs if self._configs is not None else _ruff_configs(ctx)
        return {c.key: c.digest for c in configs}

    # -- selection -------------------------------------------------------------------

    _configs: tuple[_RuffConfig, ...] | None = None
    _ruff_included: frozenset[str] = frozenset()
    _ruff_left_out: frozenset[str] = frozenset()

    def selects(self, file: InventoryFile) -> bool:
        return super().selects(file) or file.path in self._ruff_included

    def check(self, ctx: GateContext) -> Analysis:
        bound = copy.copy(self)  # the registered gate stays stateless across sessions
        bound._configs = _ruff_configs(ctx)  # read once, for the selection and the cache key
        bound._ruff_included, bound._ruff_left_out = bound._discovered_by_ruff(ctx)
        return FileGate.check(bound, ctx)

    def _discovered_by_ruff(self, ctx: GateContext) -> tuple[frozenset[str], frozenset[str]]:
        """What ruff's ``include``/``extend-include`` change about the files ``ruff check .`` lints.

        The files in scope they add to ``*.py`` & co. (a ``.pyw``, an extensionless
        script), and, with ``include`` replacing ruff's defaults, the ``*.py`` & co. it
        leaves out. Ruff's own file discovery is asked, only when some configuration
        sets either key: handed a file by name, ruff lints it whatever ``include`` says.
        """
        keys = {
            k for c in self._configs or () for k in ("include", "extend-include") if k in c.table
        }
        if not keys:
            return frozenset(), frozenset()
        proc = run_tool(
            [
                self.ruff(ctx),
                "check",
                "--show-files",
                "--force-exclude",
                "--no-cache",
                "--no-fix",
                "--",
                ".",
            ],
            cwd=ctx.root,
            timeout=ctx.timeout,
        )
        # Absolute paths, one a line, under the root as given or as resolved.
        prefixes = {str(ctx.root) + os.sep, str(ctx.root.resolve()) + os.sep}
        listed = {
            line[len(prefix) :].replace(os.sep, "/")
            for line in proc.stdout.splitlines()
            for prefix in prefixes
            if line.startswith(prefix)
        }
        added, left_out = set(), set()
        for f in ctx.inventory.files:
            ours = FileGate.selects(self, f)
            # pyproject.toml is in ruff's default include for one rule (RUF200), not as code.
            if f.path in listed and not ours and f.name != "pyproject.toml":
                added.add(f.path)
            # A name holding a newline cannot be read back from the listing: kept.
            elif ours and "include" in keys and f.path not in listed and "\n" not in f.path:
                left_out.add(f.path)
        return frozenset(added), frozenset(left_out)

    def analyse(self, files: Sequence[InventoryFile], ctx: GateContext) -> FileAnalysis:
        settings = ctx.settings
        extend = sorted({code for p in settings["presets"] for code in PRESETS[p]})
        common = ["--force-exclude", "--no-cache"]
        paths = [f.path for f in files if f.path not in self._ruff_left_out]
        left_out = {
            f.path: "not matched by the ruff configuration's include"
            for f in files
            if f.path in self._ruff_left_out
        }
        if not paths:
            return FileAnalysis(skipped=left_out)  # all skipped: the core says so

        findings: list[Finding] = []
        unanalysable: set[str] = set()
        linted: list[str] = []
        # `fix = true` in the configuration would rewrite the project's files and report
        # only what ruff could not fix: the gate judges the code as it is.
        check_args = ["-v", "--output-format", "json", *common, "--no-fix"]
        if extend:
            check_args += ["--extend-select", ",".join(extend)]
        for batch in _batches(paths):
            proc = run_tool(
                [self.ruff(ctx), "check", *check_args, "--", *batch],
                cwd=ctx.root,
                timeout=ctx.timeout,
                ok_codes=(0, 1),
            )
            entries = _parse(proc.stdout, "ruff check")
            if proc.returncode == 1 and not entries:
                raise GateError(
                    "ruff check exited with code 1 (violations found) but reported no violation",
                    proc.stderr.strip()[-2000:],
                )
            for entry in entries:
                severity = Severity.parse(settings["severity"])
                finding = self._finding(entry, ctx.root, severity, batch)
                if finding.rule in UNANALYSABLE:
                    unanalysable.add(finding.path)
                findings.append(finding)
            logged = _logged_files(proc.stderr, LINT_LOG, ctx.root, batch)
            linted += logged if logged is not None else self._linted(batch, ctx)
        if not linted:
            raise GateError(
                f"ruff's configuration excludes all {len(paths)} files in scope, so nothing "
                "would be linted; check `exclude`/`extend-exclude` in [tool.ruff] and "
                "`exclude` in [tool.ruff.lint], or disable the lint gate deliberately",
            )

        formatted: set[str] = set()
        if settings["format"]:
            # Every file ruff format looks at, not only the linted ones: `lint.exclude`
            # keeps a file out of ruff check, not out of ruff format.
            fmt_targets = [p for p in paths if p not in unanalysable]
            for batch in _batches(fmt_targets):
                findings.extend(self._format(batch, ctx, formatted))
            if fmt_targets and not formatted:
                raise GateError(
                    f"ruff's configuration excludes all {len(fmt_targets)} files in scope "
                    "from ruff format, so the format check would check nothing; check "
                    "`exclude` in [tool.ruff.format], or set the lint gate's `format = false` "
                    "deliberately",
                )
            formatted.update(unanalysable)  # a critical finding already: not left out unseen
        else:
            formatted = set(paths)  # the format check is off: no file is missing from it

        return FileAnalysis(
            findings=findings, skipped={**left_out, **_skipped(paths, linted, formatted)}
        )

    def _linted(self, paths: Sequence[str], ctx: GateContext) -> list[str]:
        """The files of ``paths`` that ``ruff check`` lints under the project's configuration.

        Asked per file, when ruff's log of the files it linted (:func:`_logged_files`)
        does not account for a batch: ``--show-files`` ignores `[tool.ruff.lint] exclude`,
        and its one-path-a-line output cannot carry a file name holding a newline.
        """
        verdicts = process.map_in_threads(lambda path: self._lints(path, ctx), paths, PROBE_WORKERS)
        return [p for p, lints in zip(paths, verdicts, strict=True) if lints]

    def _lints(self, path: str, ctx: GateContext) -> bool:
        """Whether ``ruff check`` lints a file at ``path``, asked through stdin.

        Ruff is handed a syntax error under the file's name: it reports that whatever
        rules, ``noqa`` or ``per-file-ignores`` the project has, and reports nothing only
        when its configuration (``exclude``, ``lint.exclude``, nested configurations
        included) leaves the file out.
        """
        probe = PROBE_NOTEBOOK if path.endswith(".ipynb") else PROBE_SOURCE
        proc = run_tool(
            [
                self.ruff(ctx),
                "check",
                "--output-format",
                "json",
                "--force-exclude",
                "--no-cache",
                "--no-fix",  # with `fix = true`, ruff would print the fixed source instead
                f"--stdin-filename={path}",
                "-",
            ],
            cwd=ctx.root,
            timeout=ctx.timeout,
            ok_codes=(0, 1),
            stdin=probe,
        )
        entries = _parse(proc.stdout, "ruff check", stderr=proc.stderr)
        if proc.returncode == 1 and not entries:
            raise GateError(
                "ruff check exited with code 1 (violations found) but reported no violation",
                proc.stderr.strip()[-2000:],
            )
        return bool(entries)

    def _format(self, batch: list[str], ctx: GateContext, formatted: set[str]) -> list[Finding]:
        """``ruff format --check`` on ``batch``; adds the files it looked at to ``formatted``."""
        proc = self._run_format(batch, ctx, "json", verbose=True)
        entries = _parse(proc.stdout, "ruff format", stderr=proc.stderr)
        severity = Severity.parse(ctx.settings["format_severity"])
        if proc.returncode == 2 and not any(e.get("code") in UNANALYSABLE for e in entries):
            raise GateError("ruff format exited with code 2", proc.stderr.strip()[-2000:])
        findings: list[Finding] = []
        reported: set[str] = set()
        for entry in entries:
            path = _relative(entry["filename"], ctx.root, batch)
            reported.add(path)
            if entry.get("code") in UNANALYSABLE:
                # Files ruff check could not parse are not handed over, so this one was
                # left out of ruff check (`lint.exclude`): nothing else reports it.
                findings.append(self._finding(entry, ctx.root, severity, batch))
                continue
            findings.append(
                Finding(
                    gate=self.name,
                    rule="format",
                    severity=severity,
                    path=path,
                    line=int(entry["location"]["row"]),
                    column=int(entry["location"]["column"]),
                    message="not formatted as `ruff format` would write it",
                    hint=f"run `ruff format {redaction.shell_word(path)}`",
                )
            )
        logged = _logged_files(proc.stderr, FORMAT_LOG, ctx.root, batch)
        formatted.update(
            logged if logged is not None else self._format_checked(batch, reported, ctx)
        )
        return findings

    def _format_checked(self, batch: list[str], reported: set[str], ctx: GateContext) -> list[str]:
        """The files of ``batch`` that ``ruff format --check`` looked at.

        Its JSON report lists only the files it would change (``reported``): an excluded
        file (`[tool.ruff.format] exclude`) looks like a formatted one. Its summary line
        counts the files it checked; only when that falls short is each file of the
        batch asked about on its own, to name the ones it left out.
        """
        if self._format_count(batch, ctx) + len(reported & set(batch)) == len(batch):
            return batch
        return [p for p in batch if p in reported or self._format_count([p], ctx)]

    def _format_count(self, batch: list[str], ctx: GateContext) -> int:
        """How many files of ``batch`` ruff format's summary says it checked and could parse."""
        proc = self._run_format(batch, ctx, "concise")
        lines = proc.stdout.strip().splitlines()
        if not lines:
            return 0  # ruff prints no summary when its configuration excludes every file
        # The summary is the last line: file names (which may hold a newline) come before it.
        counts = FORMAT_SUMMARY.fullmatch(lines[-1].strip())
        if counts is None or not any(counts.groups()):
            raise GateError(
                "ruff format --check printed no summary of the files it checked, so the gate "
                "cannot tell whether its configuration left files out",
                proc.stdout.strip()[-2000:],
            )
        return sum(int(n) for n in counts.groups() if n)

    def _run_format(
        self, batch: list[str], ctx: GateContext, output: str, *, verbose: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            [
                self.ruff(ctx),
                "format",
                "--check",
                *(["-v"] if verbose else []),
                "--output-format",
                output,
                "--force-exclude",
                "--no-cache",
                "--",
                *batch,
            ],
            cwd=ctx.root,
            timeout=ctx.timeout,
            ok_codes=(0, 1, 2),
        )

    def _finding(
        self, entry: Mapping[str, Any], root: Path, severity: Severity, batch: Sequence[str]
    ) -> Finding:
        code = entry.get("code") or entry.get("name") or "ruff"
        path = _relative(entry["filename"], root, batch)
        location = entry.get("location") or {}
        # Findings never carry source text: ruff quotes literals (S108, B033), names
        # (F821: a key written without its quotes) and format placeholders (F524).
        message = redaction.source_text(str(entry.get("message", "")))
        if entry.get("cell"):
            message = f"[cell {entry['cell']}] {message}"
        fix = entry.get("fix") or {}
        if code in UNANALYSABLE:
            hint = "ruff cannot parse this file, so nothing in it is checked; fix the syntax"
            severity = Severity.CRITICAL
        elif fix.get("applicability") == "safe":
            hint = f"fixable: `ruff check --fix {redaction.shell_word(path)}`"
        elif fix:
            hint = (
                f"fixable with `ruff check --fix --unsafe-fixes {redaction.shell_word(path)}` "
                "(review the change)"
            )
        else:
            hint = f"see {entry['url']}" if entry.get("url") else ""
        return Finding(
            gate=self.name,
            rule=str(code),
            severity=severity,
            path=path,
            line=int(location.get("row") or 0),
            column=int(location.get("column") or 0),
            message=message,
            hint=hint,
            url=str(entry.get("url") or ""),
        )


def _logged_files(
    stderr: str, log: tuple[str, re.Pattern[str]], root: Path, batch: Sequence[str]
) -> list[str] | None:
    """The files of ``batch`` ruff's ``-v`` log says it linted (or formatted), in order.

    The one answer that costs no extra ruff process, and ruff's own: its configuration
    (``exclude``, ``lint.exclude``, ``format.exclude``, nested configurations) decided.
    It is a debug log, not an interface, so it is used only when it accounts for
    itself: one count at the end, equal to the files it named, each a file of the batch.
    Otherwise None, and the caller asks ruff file by file.
    """
    item, total = log
    starts = list(RUFF_LOG.finditer(stderr))
    named: list[str] = []
    counts: list[int] = []
    for i, start in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(stderr)
        message = stderr[start.end() : end].removesuffix("\n")
        if message.startswith(item):
            try:
                named.append(_relative(message[len(item) :], root))
            except ValueError:  # a path outside the project: not one of the batch's
                return None
        elif counted := total.match(message):
            counts.append(int(counted.group(1)))
    if not named and not counts and NO_FILES in stderr:
        return []  # its configuration left out every file, before it linted any
    seen = set(named)
    if counts != [len(named)] or len(seen) != len(named) or not seen.issubset(batch):
        return None
    return [p for p in batch if p in seen]


def _skipped(paths: Sequence[str], linted: Sequence[str], formatted: set[str]) -> dict[str, str]:
    """Why each file of ``paths`` that ruff check or ruff format left out was left out."""
    checked = set(linted)
    skipped: dict[str, str] = {}
    for path in paths:
        if path not in checked and path not in formatted:
            skipped[path] = "excluded by the ruff configuration"
        elif path not in checked:
            skipped[path] = "excluded from ruff check by the ruff configuration"
        elif path not in formatted:
            skipped[path] = "excluded from ruff format by the ruff configuration"
    return skipped


def _parse(stdout: str, what: str, stderr: str = "") -> list[dict[str, Any]]:
    try:
        data = json.loads(stdout or "[]")
        if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
            raise ValueError("not a list of objects")
        for entry in data:
            if "filename" not in entry:
                raise KeyError("filename")
    except (ValueError, KeyError) as exc:
        raise GateError(
            f"{what} printed output that is not its JSON report ({exc})",
            (stderr or stdout).strip()[-2000:],
        ) from None
    return data


def _relative(filename: str, root: Path, batch: Sequence[str] = ()) -> str:
    """``filename`` as ruff reports it, as the project-relative path of ``batch`` it names.

    ruff writes a name that is not UTF-8 with U+FFFD for its bytes: such a finding
    matched no file of the batch, and the file was cached as clean (a warm run passed).
    """
    path = Path(filename)
    if not path.is_absolute():
        path = root / path
    try:
        relative = path.relative_to(root).as_posix()
    except ValueError:
        relative = path.resolve().relative_to(root.resolve()).as_posix()
    if "\ufffd" in relative:
        for candidate in batch:
            if os.fsencode(candidate).decode("utf-8", "replace") == relative:
                return candidate
    return relative


def _batches(paths: Sequence[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    size = 0
    for p in paths:
        if batch and size + len(p) + 1 > ARG_BUDGET:
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += len(p) + 1
    if batch:
        yield batch


@dataclass(frozen=True)
class _RuffConfig:
    """A ruff configuration file, read once: what ruff takes from it, and its cache input."""

    path: Path
    key: str  # its name among the gate's cache inputs
    digest: str
    table: Mapping[str, Any]  # ruff's settings in it (a pyproject's [tool.ruff]); {}: none
    is_config: bool  # ruff takes it as a configuration (a pyproject only with [tool.ruff])

    @property
    def extends(self) -> Path | None:
        """The file its ``extend`` names: relative to it, ``~`` and variables expanded."""
        target = self.table.get("extend")
        if not isinstance(target, str):
            return None
        return Path(
            os.path.normpath(self.path.parent / os.path.expandvars(os.path.expanduser(target)))
        )


def _read_config(path: Path, key: str, sha256: str | None = None) -> _RuffConfig:
    """``path`` as ruff reads it; ``sha256``, when the inventory has it, saves a hash.

    Only ``[tool.ruff]`` of a pyproject matters to ruff: that is its digest, not the
    version bump. An unreadable file has no settings (ruff reports it itself) and a
    digest saying why, so that fixing it re-lints.
    """
    pyproject = path.name == "pyproject.toml"
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        return _RuffConfig(path, key, f"unreadable: {exc}", {}, not pyproject and path.is_file())
    table = data.get("tool", {}).get("ruff") if pyproject else data
    if pyproject:
        digest = json.dumps(table, sort_keys=True, default=str)
    else:
        digest = sha256 or hashlib.sha256(raw).hexdigest()
    settings = table if isinstance(table, dict) else {}
    return _RuffConfig(path, key, digest, settings, not pyproject or isinstance(table, dict))


def _ruff_configs(ctx: GateContext) -> tuple[_RuffConfig, ...]:
    """Every ruff configuration the project's lint depends on, each read once.

    The root's pyproject.toml and the configuration files in scope; without one at the
    root, the one ruff falls back on (the nearest above it, a monorepo's, else the
    user's); and the files their ``extend`` settings name, followed as ruff follows them
    (any name, outside the project, extending another in turn).
    """
    configs = [
        _read_config(
            ctx.inventory.abspath(f),
            f.path,
            None if f.name == "pyproject.toml" else f.sha256,
        )
        for f in ctx.inventory.files
        if f.name in RUFF_CONFIG_FILES
    ]
    root_pyproject = ctx.root / "pyproject.toml"
    if "pyproject.toml" not in ctx.inventory.by_path and root_pyproject.exists():
        configs.insert(0, _read_config(root_pyproject, "pyproject.toml"))
    if not any(c.path.parent == ctx.root and c.is_config for c in configs):
        outer = _outer_config(ctx.root)
        if outer is not None:
            configs.append(outer)
    seen = {c.path for c in configs}
    todo = list(configs)
    while todo:
        target = todo.pop().extends
        if target is not None and target not in seen:
            seen.add(target)
            extended = _read_config(target, f"extend:{target}")
            configs.append(extended)
            todo.append(extended)
    return tuple(configs)


def _outer_config(root: Path) -> _RuffConfig | None:
    """The configuration ruff falls back on for a root without one, as ruff looks for it."""
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "ruff"
    for directory in [*root.resolve().parents, user]:
        for name in RUFF_CONFIG_PRECEDENCE:
            path = directory / name
            if path.is_file():
                config = _read_config(path, f"outer:{path}")
                if config.is_config:
                    return config
    return None


@hookimpl
def platformgates_gates() -> list[FileGate]:
    return [LintGate()]
