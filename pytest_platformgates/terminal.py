"""How gate results read in a terminal: the failure report and the end-of-run table."""

from __future__ import annotations

from collections.abc import Sequence

from .model import Finding, GateResult, Severity, Verdict

MAX_LISTED = 200


def failure_report(result: GateResult, verbose: int = 0) -> str:
    """A gate's report: what blocks, what is only reported, and what to do."""
    lines: list[str] = []
    if result.verdict is Verdict.ERROR:
        lines.append(f"gate {result.gate!r} could not be evaluated; it does not pass:")
        for problem in result.problems:
            first, *rest = problem.splitlines() or [""]
            lines.append(f"  - {first}")
            lines.extend(f"      {r}" for r in rest)
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
        if verbose:
            lines.extend(_finding_lines(reported, hints=verbose > 1))
        else:
            lines.append("  (run with -v to list them)")
    debt = [f for f in result.findings if f.known_debt]
    if debt:
        lines.append(f"known debt, not blocking ({_debt_kinds(debt)}): {len(debt)}")
        if verbose:
            lines.extend(_finding_lines(debt, hints=False))
        else:
            lines.append("  (run with -v to list them)")
    for note in result.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _finding_lines(findings: Sequence[Finding], hints: bool) -> list[str]:
    out = []
    width = min(max((len(f.location) for f in findings), default=0), 60)
    for f in findings[:MAX_LISTED]:
        out.append(f"  {f.location:<{width}}  {f.severity.label:<8} {f.rule:<12} {f.message}")
        if f.waiver:
            w = f.waiver
            out.append(
                f"  {'':<{width}}  waived: {w.get('id')} (owner {w.get('owner')}, "
                f"expires {w.get('expires')}, {w.get('days_left')} days left)"
            )
        if hints and f.hint:
            out.append(f"  {'':<{width}}  hint: {f.hint}")
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
        if verbose and debt:
            out.extend(_finding_lines(debt, hints=False))
    return out
