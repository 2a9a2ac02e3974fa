"""The coverage gate: thresholds that cannot lie, judged on this session's own measurement.

Coverage is measured while the tests run (see :mod:`~pytest_platformgates.measurement`)
and judged here, over the gate-checked Python files rather than over whatever the
tests happened to import: a module no test imported counts with all its lines
missed. Each figure is a percentage truncated (never rounded up) to one precision,
and the same decimal is both compared with its threshold and printed, so the report
cannot say FAIL while the run passes, or the reverse. Anything that prevents judging
(no data, a file coverage cannot parse, a base git does not know, a partial run)
is an error or a "not evaluated" skip, never a pass.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pytest

from ..changes import Changes, ChangesError, changes_since, file_at, merge_base
from ..config import ConfigError, Option
from ..gate import Gate, GateContext, GateError
from ..hookspecs import hookimpl
from ..inventory import FileStatus, InventoryFile, glob_to_regex
from ..measurement import SessionCoverage, config_problem, is_config_typo
from ..model import Analysis, Finding, Severity, fingerprint
from ..process import installed_version

if TYPE_CHECKING:
    from coverage import Coverage
    from coverage.files import GlobMatcher

# coverage.py is imported where the gate judges, never for a project that leaves the gate
# off: measurement.py starts it then. Its C tracer cannot be imported twice in a process,
# so a session with pytester imports it up front (activation.py).

WORST_LISTED = 5
REPORT_ARTIFACT = "coverage.json"  # read by the HTML report of the evidence bundle
SHORT = {"fail_under": "total (coverage's fail_under)", "new_code": "new code"}
RANGES_LISTED = 12

DEFAULT_OMIT = ["tests/**", "test/**", "**/conftest.py", "**/test_*.py", "**/*_test.py"]
THRESHOLDS = ("line", "branch", "per_file", "new_code")
# The gate reads coverage.py's data and report API in-process: a new major may change it.
MIN_COVERAGE, BELOW_COVERAGE = "7.6", "8"


def _percent_option(name: str, default: float, help: str) -> Option:
    return Option(name, "number", default, help, minimum=0, maximum=100)


class CoverageGate(Gate):
    name = "coverage"
    session_bound = True  # judges this session's measurement: never in a background process
    description = (
        "line, branch, per-file and new-code coverage of the gate-checked Python files, "
        "measured during this pytest run"
    )
    options = (
        _percent_option("line", 80, "Minimum total line coverage, in percent."),
        _percent_option(
            "branch",
            0,
            "Minimum branch coverage, in percent (0: not checked). Above 0, branches are "
            "measured even if [tool.coverage.run] does not ask for it.",
        ),
        _percent_option(
            "per_file", 0, "Minimum line coverage of every file with statements (0: no floor)."
        ),
        _percent_option(
            "new_code",
            0,
            "Minimum share of the executable lines changed since `base` that the tests ran "
            "(0: not checked).",
        ),
        Option(
            "max_new_uncovered",
            "int",
            None,
            "At most this many changed executable lines may go unrun (unset: no limit).",
            minimum=0,
        ),
        Option(
            "base",
            "str",
            "origin/main",
            "The revision new code is measured against (its merge-base with HEAD); also "
            "where the ratchet's recorded value is read.",
        ),
        Option(
            "ratchet",
            "str",
            None,
            "A committed JSON file holding the recorded line coverage; coverage may not fall "
            "below the value recorded on `base`. Record with `pytest --gates-update-ratchet`.",
        ),
        Option(
            "omit",
            "list[str]",
            DEFAULT_OMIT,
            "Gate-checked Python files that are not measured (globs, `**` allowed): tests "
            "are code that runs, not code under test.",
        ),
        Option(
            "partial_run",
            "choice",
            "skip",
            "On a partial run (deselected or named tests, stopped early): `skip` reports "
            "'not evaluated', `error` fails the item, `evaluate` judges the data anyway.",
            choices=("skip", "error", "evaluate"),
        ),
        Option("severity", "severity", "high", "Severity of a missed threshold."),
    )

    def __init__(self) -> None:
        self._snapshot: Callable[[], SessionCoverage] | None = None

    def bind(self, snapshot: Callable[[], SessionCoverage]) -> None:
        """Connect the gate to the session that measures (called by the measurement hooks)."""
        self._snapshot = snapshot

    def validate(self, values: Mapping[str, Any], where: str) -> None:
        ratchet = values["ratchet"]
        if ratchet is not None:
            posix = PurePosixPath(ratchet)
            if posix.is_absolute() or ".." in posix.parts or not ratchet.endswith(".json"):
                raise ConfigError(
                    f"{where}.ratchet = {ratchet!r} must be a relative path to a .json file "
                    "inside the project"
                )

    def check(self, ctx: GateContext) -> Analysis:
        version = _coverage_version()
        if self._snapshot is None:
            raise GateError(
                "coverage was not measured in this session: the platformgates measurement "
                "hooks were not active (is the plugin disabled with -p no:...?)"
            )
        session = self._snapshot()
        if session.problems:
            return Analysis(problems=session.problems)
        self._judge_partial(session, ctx)
        return Judgement(self, ctx, session, version).run()

    def _judge_partial(self, session: SessionCoverage, ctx: GateContext) -> None:
        if not session.partial:
            return
        text = "not evaluated: partial run: " + "; ".join(session.partial)
        mode = ctx.settings["partial_run"]
        if mode == "skip":
            # A skip, not a verdict: the item is reported as not evaluated, never passed.
            pytest.skip(f"{text} (the coverage gate judges whole-suite runs)")
        if mode == "error":
            raise GateError(text, 'run the whole suite, or set partial_run = "skip"')
        ctx.notes.append(f'{text}; judged anyway because partial_run = "evaluate"')


@dataclass(frozen=True)
class FileCoverage:
    """One measured file: its executable lines, those not run, and its branches."""

    path: str
    statements: frozenset[int]
    missing: frozenset[int]
    branches: int
    missing_branches: int
    measured: bool

    @property
    def covered(self) -> int:
        return len(self.statements) - len(self.missing)


def floor_percent(part: int, whole: int, precision: int) -> Decimal:
    """``part/whole`` in percent, truncated to ``precision`` decimals: never rounded up."""
    scaled = (part * 100 * 10**precision) // whole
    return Decimal(scaled).scaleb(-precision)


def decimals(value: float | Decimal) -> int:
    exponent = Decimal(str(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def ranges(lines: Iterable[int]) -> str:
    """``[3, 4, 5, 9]`` as ``3-5, 9``."""
    out: list[str] = []
    start = prev = None
    for n in sorted(lines):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    if len(out) > RANGES_LISTED:
        return ", ".join(out[:RANGES_LISTED]) + f", ... ({len(out) - RANGES_LISTED} more)"
    return ", ".join(out)


class Judgement:
    """One evaluation: select the files, analyse them, compare every figure once."""

    def __init__(
        self, gate: CoverageGate, ctx: GateContext, session: SessionCoverage, version: str
    ) -> None:
        self.gate = gate
        self.version = version  # coverage.py's, checked supported
        self.ctx = ctx
        self.session = session
        self.settings = ctx.settings
        self.severity = Severity.parse(ctx.settings["severity"])
        self.findings: list[Finding] = []
        self.problems: list[str] = []
        self.figures: dict[str, int | float | str] = {}
        self.root = ctx.inventory.root
        self._line = Decimal(0)
        self.summary: list[str] = []  # every figure against its threshold, for the report
        self._coverage: Coverage | None = None  # the analyser, once made

    # -- the steps --------------------------------------------------------------------

    def run(self) -> Analysis:
        options = self.session.options
        analyser = self._coverage = self._analyser(options.get("config_file"))
        files = self._select(options)
        if not files and not self.problems:
            raise GateError(
                "no Python files to measure: none of the gate-checked files is a Python "
                "file left by `omit` and the coverage configuration (source/include/omit). "
                "Check `paths`, or disable the coverage gate if the project has no Python code"
            )
        measured = self._analyse(analyser, files)
        if self.problems:
            return self._analysis()
        recorded = self._recorded() if self.settings["ratchet"] else None
        precision = self._precision(options, recorded)
        self.figures["precision"] = precision
        self._totals(measured, precision, options)
        self._per_file(measured, precision)
        if self.settings["new_code"] or self.settings["max_new_uncovered"] is not None:
            self._new_code(measured, precision)
        if self.settings["ratchet"]:
            self._ratchet(recorded, precision)
        self.ctx.notes.insert(0, "; ".join(self.summary))
        self._note_never_imported(measured)
        return self._analysis({REPORT_ARTIFACT: self._report(measured, precision)})

    def _analysis(self, artifacts: Mapping[str, str] | None = None) -> Analysis:
        self.figures["measured_by"] = self.session.origin
        if self.session.processes > 1:
            self.figures["processes"] = self.session.processes
        return Analysis(
            findings=tuple(self.findings),
            problems=tuple(self.problems),
            figures=self.figures,
            tool_versions={"coverage": self.version},
            notes=tuple(self.ctx.notes),
            artifacts=artifacts or {},
        )

    def _analyser(self, config_file: str | None) -> Coverage:
        """A Coverage that reads the measurement's configuration and holds its data."""
        from coverage import Coverage
        from coverage.exceptions import CoverageException

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                analyser = Coverage(data_file=None, config_file=config_file or False)
                # The data's file names are looked up as the measurement recorded them.
                relative = self.session.options.get("run:relative_files")
                analyser.set_option("run:relative_files", bool(relative))
                data = analyser.get_data()
                if self.session.data is not None:
                    data.update(self.session.data)
        except CoverageException as exc:
            raise GateError(f"coverage cannot read its configuration or data: {exc}") from None
        # Coverage only warns about a typo in its configuration ("fail_undr"); a typo must
        # never quietly change what is measured or required.
        self.problems.extend(
            config_problem(str(w.message)) for w in caught if is_config_typo(str(w.message))
        )
        return analyser

    def _select(self, options: Mapping[str, Any]) -> list[InventoryFile]:
        inventory = self.ctx.inventory
        if inventory.problems:
            self.problems.extend(inventory.problems)
            return []
        omit = re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in self.settings["omit"]))
        coverage_filter = _CoverageFilter(self.root, options)
        selected = []
        left_out = 0
        for f in inventory.files:
            if f.suffix != ".py" or f.status is FileStatus.LINK:
                continue
            if (self.settings["omit"] and omit.match(f.path)) or not coverage_filter(f.path):
                left_out += 1
                continue
            if f.status is not FileStatus.TEXT:
                self.findings.append(
                    self._finding(
                        "unmeasurable-file",
                        f.path,
                        0,
                        f"cannot be measured: {f.status.value} ({f.detail})",
                        hint="fix the file, or leave it out with `omit`",
                        severity=Severity.CRITICAL,
                    )
                )
                continue
            selected.append(f)
        self.figures["files_omitted"] = left_out
        return selected

    def _analyse(self, analyser: Coverage, files: Sequence[InventoryFile]) -> list[FileCoverage]:
        from coverage.exceptions import CoverageException

        data = self.session.data
        # A file with recorded lines ran; coverage also lists files it merely found in
        # `source` (with no lines), which no test imported.
        measured_paths = (
            {os.path.realpath(p) for p in data.measured_files() if data.lines(p)} if data else set()
        )
        arcs = bool(data is not None and data.has_arcs())
        out = []
        unparsable = []
        for f in files:
            path = os.path.realpath(self.ctx.inventory.abspath(f))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, statements, _, missing, _ = analyser.analysis2(path)
                    stats = analyser.branch_stats(path) if arcs else {}
            except CoverageException as exc:
                unparsable.append(f"{f.path}: {exc}")
                continue
            out.append(
                FileCoverage(
                    path=f.path,
                    statements=frozenset(statements),
                    missing=frozenset(missing),
                    branches=sum(total for total, _ in stats.values()),
                    missing_branches=sum(total - taken for total, taken in stats.values()),
                    measured=path in measured_paths,
                )
            )
        if unparsable:
            self.problems.append(
                f"coverage cannot analyse {len(unparsable)} file(s), so their lines would "
                "silently drop out of the figures; fix them or leave them out with `omit`:\n"
                + "\n".join(unparsable)
            )
        if out and data is not None and not any(fc.measured for fc in out):
            listed = sorted(data.measured_files())
            self.problems.append(
                f"coverage measured {len(listed)} file(s), none of them among the "
                f"{len(out)} files this gate checks: the tests import none of the project's "
                "code, or they ran another copy of it (an installed package in "
                "site-packages?). Run the tests against the working tree (an editable "
                "install, or `pythonpath` in [tool.pytest.ini_options])"
            )
        return out

    def _precision(self, options: Mapping[str, Any], recorded: Decimal | None) -> int:
        """One precision for every figure: coverage's, or finer if a threshold needs it."""
        values: list[float | Decimal] = [self.settings[name] for name in THRESHOLDS]
        values.append(options.get("report:fail_under") or 0)
        if recorded is not None:
            values.append(recorded)
        return max([int(options.get("report:precision") or 0), *map(decimals, values)])

    # -- the comparisons --------------------------------------------------------------

    def _compare(
        self,
        rule: str,
        label: str,
        part: int,
        whole: int,
        threshold: float | Decimal,
        precision: int,
        detail: str,
        hint: str,
    ) -> Decimal:
        value = floor_percent(part, whole, precision)
        required = Decimal(str(threshold))
        shown, needed = f"{value:.{precision}f}", f"{required:.{precision}f}"
        self.figures[f"{rule}_percent"] = shown
        self.figures[f"{rule}_threshold"] = needed
        self.summary.append(
            f"{SHORT.get(rule, rule)} {shown}%"
            + (f" (required {needed}%)" if required else " (not required)")
        )
        if value < required:
            self.findings.append(
                self._finding(
                    rule, "", 0, f"{label} {shown}% is below {needed}% ({detail})", hint=hint
                )
            )
        return value

    def _totals(
        self, files: Sequence[FileCoverage], precision: int, options: Mapping[str, Any]
    ) -> None:
        statements = sum(len(f.statements) for f in files)
        covered = sum(f.covered for f in files)
        unmeasured = [f for f in files if not f.measured and f.statements]
        self.figures.update(
            files=len(files),
            files_never_imported=len(unmeasured),
            statements=statements,
            statements_run=covered,
        )
        if not statements:
            raise GateError(
                f"the {len(files)} measured file(s) have no executable statements, so there "
                "is no coverage to judge; check `omit` and the coverage configuration"
            )
        worst = _worst(files, precision)
        self._line = self._compare(
            "line",
            "line coverage",
            covered,
            statements,
            self.settings["line"],
            precision,
            f"{covered} of {statements} statements run",
            f"lowest: {worst}" if worst else "",
        )
        data = self.session.data
        branches = sum(f.branches for f in files)
        branches_run = branches - sum(f.missing_branches for f in files)
        if data is not None and data.has_arcs():
            self.figures.update(branches=branches, branches_run=branches_run)
            if branches:
                self._compare(
                    "branch",
                    "branch coverage",
                    branches_run,
                    branches,
                    self.settings["branch"],
                    precision,
                    f"{branches_run} of {branches} branches taken",
                    "",
                )
            elif self.settings["branch"]:
                self.ctx.notes.append("no branches in the measured files: branch check met")
        elif self.settings["branch"]:
            self.problems.append(
                f"branch = {self.settings['branch']} is required, but branch coverage was not "
                "measured (the data holds lines only: with pytest-cov pass --cov-branch, with "
                "`coverage run` set [tool.coverage.run] branch = true)"
            )
        fail_under = options.get("report:fail_under") or 0
        if fail_under:
            # coverage's own total: statements and branches together, as `coverage report`,
            # but branches only if coverage measures them, not if only the gate's `branch`
            # turned them on: coverage's total would then be of lines alone.
            counted = options.get("branch_in_total", True)
            self._compare(
                "fail_under",
                "total coverage (coverage's fail_under)",
                covered + (branches_run if counted else 0),
                statements + (branches if counted else 0),
                fail_under,
                precision,
                "[tool.coverage.report] fail_under",
                "",
            )

    def _per_file(self, files: Sequence[FileCoverage], precision: int) -> None:
        floor = self.settings["per_file"]
        if not floor:
            return
        required = Decimal(str(floor))
        below = 0
        for f in files:
            if not f.statements:
                continue
            value = floor_percent(f.covered, len(f.statements), precision)
            if value >= required:
                continue
            below += 1
            never = "" if f.measured else ", never imported by the tests"
            self.findings.append(
                self._finding(
                    "per_file",
                    f.path,
                    min(f.missing),
                    f"{value:.{precision}f}% of {len(f.statements)} statements run, below the "
                    f"per-file floor {required:.{precision}f}%{never}; not run: "
                    f"{ranges(f.missing)}",
                )
            )
        self.figures["files_below_per_file"] = below
        self.figures["per_file_threshold"] = f"{required:.{precision}f}"
        self.summary.append(f"{below} file(s) below the per-file floor {required:.{precision}f}%")

    def _new_code(self, files: Sequence[FileCoverage], precision: int) -> None:
        base = self.settings["base"]
        try:
            changes = changes_since(self.root, base, timeout=self.ctx.timeout)
        except ChangesError as exc:
            self.problems.append(f"new code cannot be measured: {exc}")
            return
        self.figures.update(base=base, base_commit=changes.commit)
        by_path = {f.path: f for f in files}
        changed_total = 0
        run_total = 0
        per_file: list[tuple[FileCoverage, frozenset[int]]] = []
        for path, lines in sorted(changes.lines.items()):
            f = by_path.get(path)
            if f is None:
                continue
            executable = self._statements_of(f, lines)
            if not executable:
                continue
            uncovered = executable & f.missing
            changed_total += len(executable)
            run_total += len(executable) - len(uncovered)
            if uncovered:
                per_file.append((f, uncovered))
        uncovered_total = changed_total - run_total
        self.figures.update(
            new_lines=changed_total, new_lines_run=run_total, new_lines_not_run=uncovered_total
        )
        self._note_outside(changes, by_path)
        failed = False
        if not changed_total:
            self.figures["new_code_percent"] = "n/a"
            self.ctx.notes.append(
                f"no executable line changed since {base} ({changes.commit[:12]}) in the "
                f"measured files ({len(changes.lines)} file(s) changed): nothing new to cover"
            )
        elif self.settings["new_code"]:
            value = self._compare(
                "new_code",
                f"new-code coverage since {base}",
                run_total,
                changed_total,
                self.settings["new_code"],
                precision,
                f"{run_total} of {changed_total} changed executable lines run",
                "the uncovered new lines are listed per file below",
            )
            failed = value < Decimal(str(self.settings["new_code"]))
        limit = self.settings["max_new_uncovered"]
        if limit is not None:
            self.figures["max_new_uncovered"] = limit
            self.summary.append(f"{uncovered_total} new line(s) not run (at most {limit})")
        if limit is not None and uncovered_total > limit:
            failed = True
            self.findings.append(
                self._finding(
                    "max_new_uncovered",
                    "",
                    0,
                    f"{uncovered_total} changed executable line(s) since {base} not run; at "
                    f"most {limit} allowed",
                    hint="the uncovered new lines are listed per file below",
                )
            )
        for f, uncovered in per_file:
            if f.measured:
                self.findings.append(
                    self._finding(
                        "new_code_not_run",
                        f.path,
                        min(uncovered),
                        f"{len(uncovered)} new line(s) not run: {ranges(uncovered)}",
                        severity=self.severity if failed else Severity.LOW,
                    )
                )
                continue
            # A changed file coverage never saw fails on its own, whatever the average:
            # diff-cover's blind spot is a new module no test imports.
            self.findings.append(
                self._finding(
                    "new_code_never_measured",
                    f.path,
                    min(uncovered),
                    f"{len(uncovered)} new line(s) not run (the tests never imported this "
                    f"file): {ranges(uncovered)}",
                    hint="import and test it, or leave it out with `omit`",
                )
            )
        never = sum(1 for f, _ in per_file if not f.measured)
        self.figures["new_files_never_measured"] = never
        if never:
            self.summary.append(f"{never} changed file(s) never measured")

    def _statements_of(self, f: FileCoverage, lines: frozenset[int]) -> frozenset[int]:
        """The statements of ``f`` that ``lines`` belong to.

        Coverage counts a statement spanning several lines at its first line: a diff
        that edits only a later line of it (an argument, a condition) changed that
        statement, so the lines are mapped as coverage maps the lines it records.
        """
        from coverage.exceptions import CoverageException
        from coverage.python import PythonFileReporter

        reporter = PythonFileReporter(os.path.realpath(self.root / f.path), coverage=self._coverage)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return frozenset(reporter.translate_lines(lines)) & f.statements
        except CoverageException as exc:  # analysed a moment ago: changed on disk since?
            raise GateError(f"coverage cannot map the changed lines of {f.path}: {exc}") from None

    def _note_outside(self, changes: Changes, by_path: Mapping[str, FileCoverage]) -> None:
        outside = [p for p in changes.lines if p.endswith(".py") and p not in by_path]
        if outside:
            shown = ", ".join(sorted(outside)[:5]) + (" ..." if len(outside) > 5 else "")
            self.ctx.notes.append(
                f"{len(outside)} changed Python file(s) are not measured (omit, coverage "
                f"configuration, or outside `paths`): {shown}"
            )

    # -- the ratchet ------------------------------------------------------------------

    def _recorded(self) -> Decimal | None:
        """The line coverage recorded in the ratchet file on ``base``."""
        path = self.settings["ratchet"]
        base = self.settings["base"]
        try:
            commit = merge_base(self.root, base, timeout=self.ctx.timeout)
            text = file_at(self.root, commit, path, timeout=self.ctx.timeout)
        except ChangesError as exc:
            self.problems.append(f"the ratchet cannot be read from {base}: {exc}")
            return None
        where = f"{path} at {base} ({commit[:12]})"
        if text is None:
            local = self.root / path
            if not local.is_file():
                if not self.session.update_ratchet:
                    self.problems.append(
                        f"the ratchet file {path} exists neither on {base} nor in the working "
                        "tree: record it with `pytest --gates-update-ratchet` and commit it"
                    )
                return None
            text = local.read_text(encoding="utf-8")
            where = f"{path} (working tree; not yet on {base})"
        try:
            value = Decimal(str(json.loads(text)["line_percent"]))
            if not value.is_finite() or not 0 <= value <= 100:
                raise ValueError(value)
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            self.problems.append(
                f"the ratchet file {where} is not a ratchet record "
                f'{{"line_percent": "<percent>"}} ({type(exc).__name__}: {exc})'
            )
            return None
        self.figures["ratchet_source"] = where
        return value

    def _ratchet(self, recorded: Decimal | None, precision: int) -> None:
        line = self._line
        shown = f"{line:.{precision}f}"
        if recorded is not None:
            self.figures["ratchet_percent"] = f"{recorded:.{precision}f}"
            self.summary.append(f"ratchet {recorded:.{precision}f}%")
            if line < recorded:
                self.findings.append(
                    self._finding(
                        "ratchet",
                        "",
                        0,
                        f"line coverage {shown}% fell below {recorded:.{precision}f}% recorded "
                        f"in {self.figures['ratchet_source']}",
                        hint="add tests for the code this change leaves unrun",
                    )
                )
        if self.session.update_ratchet and self.session.partial:
            self.ctx.notes.append("ratchet not recorded: only a whole-suite run may set it")
        elif self.session.update_ratchet:
            path = self.root / self.settings["ratchet"]
            record = {
                "line_percent": shown,
                "note": "recorded by `pytest --gates-update-ratchet`; the coverage gate "
                "fails when line coverage falls below the value on its base",
            }
            path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            self.ctx.notes.append(f"ratchet recorded: {shown}% in {self.settings['ratchet']}")

    # -- reporting --------------------------------------------------------------------

    def _report(self, files: Sequence[FileCoverage], precision: int) -> str:
        """Per-file figures in the shape of coverage.py's JSON report, for the evidence.

        Percentages are the gate's own: truncated to its precision, as it printed them.
        """

        def summary(statements: int, run: int, missing: int, extra: Mapping[str, int]) -> dict:
            percent = floor_percent(run, statements, precision) if statements else Decimal(100)
            return {
                "num_statements": statements,
                "covered_lines": run,
                "missing_lines": missing,
                "percent_covered": float(percent),
                "percent_covered_display": f"{percent:.{precision}f}",
                **extra,
            }

        branches = self.session.data is not None and self.session.data.has_arcs()
        document: dict[str, Any] = {
            "meta": {
                "format": 3,
                "version": self.version,
                "branch_coverage": branches,
                "precision": precision,
                "measured_by": self.session.origin,
            },
            "files": {},
        }
        for f in files:
            extra = {"num_branches": f.branches, "missing_branches": f.missing_branches}
            document["files"][f.path] = {
                "missing_lines": sorted(f.missing),
                "measured": f.measured,
                "summary": summary(
                    len(f.statements), f.covered, len(f.missing), extra if branches else {}
                ),
            }
        statements = sum(len(f.statements) for f in files)
        run = sum(f.covered for f in files)
        document["totals"] = summary(statements, run, statements - run, {})
        return json.dumps(document, indent=1, sort_keys=True)

    def _note_never_imported(self, files: Sequence[FileCoverage]) -> None:
        never = sorted(f.path for f in files if not f.measured and f.statements)
        if never:
            shown = ", ".join(never[:10]) + (" ..." if len(never) > 10 else "")
            self.ctx.notes.append(
                f"{len(never)} file(s) never imported by the tests count with all lines "
                f"missed: {shown}"
            )

    def _finding(
        self,
        rule: str,
        path: str,
        line: int,
        message: str,
        hint: str = "",
        severity: Severity | None = None,
    ) -> Finding:
        return Finding(
            gate=self.gate.name,
            rule=rule,
            severity=severity or self.severity,
            path=path,
            line=line,
            message=message,
            hint=hint,
            fingerprint=fingerprint(self.gate.name, rule, path, "", 0),
        )


def _worst(files: Sequence[FileCoverage], precision: int) -> str:
    ranked = sorted(
        (f for f in files if f.missing),
        key=lambda f: (f.covered / len(f.statements), -len(f.missing), f.path),
    )
    return ", ".join(
        f"{f.path} {floor_percent(f.covered, len(f.statements), precision):.{precision}f}% "
        f"({len(f.missing)} of {len(f.statements)} not run)"
        for f in ranked[:WORST_LISTED]
    )


class _CoverageFilter:
    """Which files coverage's own configuration measures and reports (source/include/omit).

    Relative patterns are taken from the project root, where measurement started.
    """

    def __init__(self, root: Path, options: Mapping[str, Any]) -> None:
        self.root = root
        dirs: list[str] = []
        packages: list[str] = []
        for entry in options.get("run:source") or ():
            (dirs if (root / entry).is_dir() else packages).append(entry)
        dirs.extend(options.get("run:source_dirs") or ())
        packages.extend(options.get("run:source_pkgs") or ())
        # With a source, coverage ignores [run] include (and warns): it measures and
        # reports every file of the source. [report] include narrows the report of what
        # was measured: a file counts when it passes both.
        run_include = () if dirs or packages else ("run:include",)
        self.includes = [
            m
            for m in (
                self._matcher(options, *run_include),
                self._matcher(options, "report:include"),
            )
            if m
        ]
        self.omit = self._matcher(options, "run:omit", "report:omit")
        self.dirs = [os.path.realpath(root / d) for d in dirs]
        self.packages = [
            re.compile(r"(?:^|/)" + re.escape(p.replace(".", "/")) + r"(?:/|\.py$)")
            for p in packages
        ]

    def _matcher(self, options: Mapping[str, Any], *names: str) -> GlobMatcher | None:
        from coverage.files import GlobMatcher

        patterns: list[str] = []
        for name in names:
            for p in options.get(name) or ():
                patterns.append(p)
                if not p.startswith(("*", "?")):
                    patterns.append(os.path.join(self.root, p))
        return GlobMatcher(patterns, names[0]) if patterns and names else None

    def __call__(self, rel: str) -> bool:
        path = os.path.realpath(self.root / rel)
        if not all(include.match(path) for include in self.includes):
            return False
        if self.omit is not None and self.omit.match(path):
            return False
        if self.dirs or self.packages:
            in_dirs = any(path == d or path.startswith(d + os.sep) for d in self.dirs)
            return in_dirs or any(p.search(rel) for p in self.packages)
        return True


@hookimpl
def platformgates_gates() -> list[Gate]:
    return [CoverageGate()]


def _coverage_version() -> str:
    """coverage.py's version when it is a supported one, else :class:`GateError`."""
    return installed_version("coverage", MIN_COVERAGE, BELOW_COVERAGE)
