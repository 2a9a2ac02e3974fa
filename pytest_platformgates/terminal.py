"""How gate results read in a terminal: the failure report and the end-of-run table.

Also a small pytest plugin (registered by ``plugin.py`` through ``pytest_plugins``): a
progress line for a gate item that waits more than a second for its gate, so a slow scan
does not look like a hang, and under ``-v`` the findings of the gates that passed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Generator, Sequence
from typing import Any

import pytest

from .model import Finding, GateResult, Severity, Verdict
from .redaction import shown, shown_lines

MAX_LISTED = 200
PROGRESS_AFTER = 1.0  # seconds a gate item may wait silently
PROGRESS_EVERY = 10.0  # then a line this often


def failure_report(result: GateResult, verbose: int = 0) -> str:
    """A gate's report: what blocks, what is only reported, and what to do."""
    lines: list[str] = []
    if result.verdict is Verdict.ERROR:
        lines.append(f"gate {result.gate!r} could not be evaluated; it does not pass:")
        for problem in result.problems:
            first, *rest = shown_lines(problem)
            lines.append(f"  - {first}")
            lines.extend(f"      {r}" for r in rest)
        lines.append(
            f"next: fix the cause above and rerun this gate alone with `pytest --gates-only -k "
            f"{result.gate}`; its settings are [tool.platformgates.gates.{result.gate}] "
            "(`platformgates gates` lists every option)"
        )
    blocking = result.blocking
    if blocking:
        lines.append(
            f"gate {result.gate!r} failed: {len(blocking)} blocking finding"
            f"{'s' if len(blocking) != 1 else ''} (fail_on = {result.fail_on})"
        )
        lines.extend(_finding_lines(blocking, hints=True))
    reported = [f for f in result.reported if not f.known_debt]
    if reported:
        lines.append(f"reported, not blocking (below {result.fail_on}): {len(reported)}")
        if verbose > 0:  # -q is -1
            lines.extend(_finding_lines(reported, hints=verbose > 1))
        else:
            lines.append("  (run with -v to list them)")
    debt = [f for f in result.findings if f.known_debt]
    if debt:
        lines.append(f"known debt, not blocking ({_debt_kinds(debt)}): {len(debt)}")
        if verbose > 0:
            lines.extend(_finding_lines(debt, hints=False))
        else:
            lines.append("  (run with -v to list them)")
    for note in result.notes:
        first, *rest = shown_lines(note)
        lines += [f"note: {first}", *rest]
    return "\n".join(lines)


def _finding_lines(findings: Sequence[Finding], hints: bool) -> list[str]:
    out = []
    listed = [(f, shown(f.location)) for f in findings[:MAX_LISTED]]
    # Aligned on the lines shown: measuring all of a gate's thousands cost 0.03 s a run.
    width = min(max((len(location) for _, location in listed), default=0), 60)
    for f, location in listed:
        out.append(
            f"  {location:<{width}}  {f.severity.label:<8} {shown(f.rule):<12} {shown(f.message)}"
        )
        if f.waiver:
            w = f.waiver
            out.append(
                shown(
                    f"  {'':<{width}}  waived: {w.get('id')} (owner {w.get('owner')}, "
                    f"expires {w.get('expires')}, {w.get('days_left')} days left)"
                )
            )
        if hints and f.hint:
            out.append(f"  {'':<{width}}  hint: {shown(f.hint)}")
        if f.known_debt:
            out.append(f"  {'':<{width}}  known debt: {f.known_debt}")
    if len(findings) > MAX_LISTED:
        out.append(f"  ... and {len(findings) - MAX_LISTED} more (all in the evidence)")
    return out


def summary_table(results: Sequence[GateResult], verbose: int = 0) -> list[str]:
    """One row a gate: verdict, findings by severity, duration, cache use; then known debt."""
    header = ("gate", "verdict", "crit", "high", "med", "low", "time", "cached")
    rows = [header]
    for r in sorted(results, key=lambda r: r.gate):
        c = r.counts()
        cached_files = r.figures.get("files_cached")
        checked = r.figures.get("files_checked")
        cached = f"{cached_files}/{checked}" if checked else "-"
        rows.append(
            (
                r.gate,
                r.verdict.value.upper(),
                str(c[Severity.CRITICAL.label]),
                str(c[Severity.HIGH.label]),
                str(c[Severity.MEDIUM.label]),
                str(c[Severity.LOW.label]),
                f"{r.duration:.2f}s",
                cached,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return table + debt_lines(results, verbose)


def _debt_kinds(debt: Sequence[Finding]) -> str:
    kinds: dict[str, int] = {}
    for f in debt:
        kinds[f.known_debt] = kinds.get(f.known_debt, 0) + 1
    names = {"baseline": "in the baseline", "old code": "not on lines changed since base"}
    return ", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(kinds.items()))


def debt_lines(results: Sequence[GateResult], verbose: int = 0) -> list[str]:
    """Known debt per gate (baseline.py): how much, of which kind, what the baseline can drop.

    With ``verbose`` the findings are listed too, passing gates included.
    """
    out = []
    for r in sorted(results, key=lambda r: r.gate):
        debt = [f for f in r.findings if f.known_debt]
        stale = r.figures.get("baseline_stale", 0)
        if not debt and not stale and "baseline_entries" not in r.figures:
            continue
        kinds = f" ({_debt_kinds(debt)})" if debt else ""
        tail = (
            f"; baseline can drop {stale} entries (platformgates baseline --prune)" if stale else ""
        )
        out.append(f"{r.gate}: known debt {len(debt)}{kinds}{tail}")
        if verbose > 0 and debt:
            out.extend(_finding_lines(debt, hints=False))
    return out


def passed_gate_lines(results: Sequence[GateResult], verbose: int) -> list[str]:
    """The findings of passing gates: listed under ``-v`` (hints ``-vv``), else counted.

    A failing gate's report already lists them; a passing gate has no report, so its
    findings below ``fail_on`` would otherwise show only as numbers in the table.
    """
    lines: list[str] = []
    quiet = 0
    for r in sorted(results, key=lambda r: r.gate):
        if r.verdict is not Verdict.PASSED or not r.findings:
            continue
        if verbose <= 0:  # -q is -1: counted, as by default
            quiet += len(r.findings)
            continue
        # Known debt is listed by debt_lines, waived findings say so on their own line.
        why = "below fail_on = " + str(r.fail_on)
        if any(f.waiver or f.known_debt for f in r.findings):
            why = f"not blocking ({why}, waived or known debt)"
        lines.append(
            f"gate {r.gate!r} passed with {len(r.findings)} finding"
            f"{'s' if len(r.findings) != 1 else ''} {why}:"
        )
        lines.extend(_finding_lines(r.findings, hints=verbose > 1))
    if quiet:
        lines.append(
            f"{quiet} non-blocking finding{'s' if quiet != 1 else ''} in passing gates "
            "(run with -v to list them; `platformgates explain RULE` says what a rule means)"
        )
    return lines


class _Progress:
    """Writes 'still running' lines while one gate item waits for its gate."""

    def __init__(self, reporter: Any, capture: Any, writer: Any, nodeid: str, gate: str) -> None:
        self.reporter = reporter
        self.writer = writer  # the reporter's TerminalWriter (config.get_terminal_writer())
        self.capture = capture
        self.nodeid = nodeid
        self.gate = gate
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.done = False
        self.printed = False
        self.timer: threading.Timer | None = None
        self._schedule(PROGRESS_AFTER)

    def _schedule(self, delay: float) -> None:
        self.timer = threading.Timer(delay, self._tick)
        self.timer.daemon = True
        self.timer.start()

    def _tick(self) -> None:
        with self.lock:  # never a line after the item's own result was written
            if self.done:
                return
            waited = time.monotonic() - self.start
            # Setup runs under output capture: step out of it, as pytest's live logging does.
            with self._uncaptured():
                # Left unterminated: whatever pytest writes next starts with a newline.
                if self.printed:
                    self.reporter.write("\n")
                else:
                    self.reporter.ensure_newline()
                    if self.writer.width_of_current_line:
                        # -q: the letters of earlier items, which ensure_newline leaves.
                        self.reporter.write("\n")
                self.reporter.write(
                    f"platformgates: gate {self.gate!r} still running ({waited:.0f} s)",
                    cyan=True,
                )
                self.reporter.flush()
            self.printed = True
            self._schedule(PROGRESS_EVERY)

    def _uncaptured(self) -> Any:
        if self.capture is None:
            return contextlib.nullcontext()
        return self.capture.global_and_fixture_disabled()

    def stop(self) -> None:
        with self.lock:
            self.done = True
            if self.timer is not None:
                self.timer.cancel()
            if self.printed and not self.reporter.showlongtestinfo:
                # Without -v pytest writes the item's letter right after the file prefix it
                # printed at the start; put that prefix back on a line of its own. With -q
                # there is no prefix: the letters that follow start a line of their own.
                with self._uncaptured():
                    if self.reporter.showfspath:
                        self.reporter.write_fspath_result(self.nodeid, "")
                    else:
                        self.reporter.write("\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # A gate item computes (or awaits) its gate in setup: that is where a run can sit.
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    gate = item.nodeid.partition("::")[2] if item.nodeid.startswith("platformgates::") else ""
    if not gate or reporter is None or hasattr(item.config, "workerinput"):
        return (yield)
    capture = item.config.pluginmanager.get_plugin("capturemanager")
    writer = item.config.get_terminal_writer()
    progress = _Progress(reporter, capture, writer, item.nodeid, gate)
    try:
        return (yield)
    finally:
        progress.stop()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    from .plugin import state_key  # the plugin imports this module

    state = config.stash.get(state_key, None)
    if state is None or hasattr(config, "workerinput") or not state.results:
        return
    results = [state.results[name] for name in sorted(state.results)]
    for line in passed_gate_lines(results, config.option.verbose):
        terminalreporter.write_line(line)
