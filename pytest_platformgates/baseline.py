"""The findings baseline: adopting the gates on legacy code without letting new problems in.

``platformgates baseline`` records the blocking findings of the gates in one committed
file (``.platformgates-baseline.json`` by default): gate, rule, path, fingerprint and
severity, one entry a line in a stable order, so that a change to it is a readable diff.
A finding that matches an entry is *known debt*: counted, reported, never blocking.
Anything else blocks as usual. Matching uses the core's line-number-free fingerprints
(rule + path + normalised source line + occurrence index), so moving code keeps its
entry and a second identical finding in a file is new. An entry covers one finding, and
only up to the severity it recorded.

The baseline only shrinks by itself: entries no finding matches any more are *stale*
("the baseline can drop N entries"), which fails the gate in CI by default
(``baseline_stale``) until ``platformgates baseline --prune`` removes them. Growing it
takes ``platformgates baseline --add``, a change that shows in review.

``new_code_only`` turns findings that are not on a line changed since ``base`` (the
git machinery of :mod:`.changes`, as the coverage gate's new-code check) into known debt
too. A finding with no line to place it (a dependency, a whole file) stays blocking.

A baseline file that cannot be read fails every gate it would apply to: a broken
baseline never passes anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .changes import ChangesError, changes_since, file_at, merge_base
from .evidence.run import finding_id
from .model import Analysis, Finding, Severity, fingerprint

if TYPE_CHECKING:
    from .config import GateSettings, Settings

FORMAT = 1
FIELDS = ("gate", "rule", "path", "fingerprint", "severity")
# Findings this module adds about the baseline itself: never recorded in it.
RULE_STALE = "baseline-stale"
RULE_FORBIDDEN = "baseline-forbidden"
RULE_CAP = "baseline-cap"
OWN_RULES = (RULE_STALE, RULE_FORBIDDEN, RULE_CAP)
DEBT_BASELINE = "baseline"
DEBT_OLD_CODE = "old code"
MAX_FIELD = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class BaselineError(Exception):
    """The baseline file cannot be used as written; the message says where and why."""


@dataclass(frozen=True, order=True)
class Entry:
    """One accepted finding. Never source text: for secrets the fingerprint is a hash."""

    gate: str
    path: str
    rule: str
    fingerprint: str
    severity: Severity

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.gate, self.rule, self.path, self.fingerprint)

    @classmethod
    def of(cls, finding: Finding) -> Entry:
        return cls(
            gate=finding.gate,
            path=finding.path,
            rule=finding.rule,
            fingerprint=finding.fingerprint or finding_id(finding.to_dict()),
            severity=finding.severity,
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "gate": self.gate,
            "rule": self.rule,
            "path": self.path,
            "fingerprint": self.fingerprint,
            "severity": self.severity.label,
        }

    def covers(self, finding: Finding) -> bool:
        """Same identity, and not worse than when it was accepted."""
        return Entry.of(finding).key == self.key and finding.severity <= self.severity


@dataclass(frozen=True)
class Baseline:
    """The entries of a baseline file, sorted, with the file's sha256 ("" when absent)."""

    entries: tuple[Entry, ...] = ()
    sha256: str = ""
    exists: bool = False

    def for_gate(self, gate: str) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.gate == gate)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(e.gate for e in self.entries).items()))


def setting(settings: Settings, key: str) -> Any:
    """A global baseline setting; its default for settings built without it (older callers)."""
    if key in settings.values:
        return settings.values[key]
    from .config import GLOBAL

    return next(o.default for o in GLOBAL if o.name == key)


def path_of(settings: Settings) -> Path:
    return settings.root / str(setting(settings, "baseline"))


def load(path: Path) -> Baseline:
    """Read a baseline file; absent means no baseline, anything unreadable is an error."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Baseline()
    except OSError as exc:
        raise BaselineError(f"{path.name}: cannot be read: {exc.strerror}") from None
    return Baseline(
        entries=parse(data, path.name), sha256=hashlib.sha256(data).hexdigest(), exists=True
    )


def parse(data: bytes, name: str) -> tuple[Entry, ...]:
    """The entries of a baseline document, validated strictly (unknown keys included)."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BaselineError(f"{name}: not UTF-8 text") from None
    except (ValueError, RecursionError) as exc:
        raise BaselineError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BaselineError(f"{name}: must be a JSON object with `version` and `entries`")
    unknown = sorted(set(doc) - {"version", "entries"})
    if unknown:
        raise BaselineError(f"{name}: unknown key {unknown[0]!r} (a baseline has version, entries)")
    if doc.get("version") != FORMAT or isinstance(doc.get("version"), bool):
        raise BaselineError(
            f"{name}: version must be {FORMAT}, not {doc.get('version')!r} "
            "(written by another release? write it anew with `platformgates baseline`)"
        )
    raw = doc.get("entries")
    if not isinstance(raw, list):
        raise BaselineError(f"{name}: entries must be an array")
    out = []
    for i, item in enumerate(raw):
        where = f"{name}: entries[{i}]"
        if not isinstance(item, dict):
            raise BaselineError(f"{where} must be an object")
        if set(item) != set(FIELDS):
            odd = sorted(set(item) ^ set(FIELDS))[0]
            raise BaselineError(
                f"{where}: {'missing' if odd in FIELDS else 'unknown'} key {odd!r} "
                f"(an entry has exactly {', '.join(FIELDS)})"
            )
        for key in FIELDS:
            value = item[key]
            if not isinstance(value, str):
                raise BaselineError(f"{where}.{key} must be a string")
            if (key != "path" and not value.strip()) or value != value.strip():
                raise BaselineError(f"{where}.{key} must be a non-empty string without padding")
            if len(value) > MAX_FIELD or _CONTROL.search(value):
                raise BaselineError(f"{where}.{key} is too long or holds control characters")
        try:
            severity = Severity.parse(item["severity"])
        except ValueError as exc:
            raise BaselineError(f"{where}.severity: {exc}") from None
        out.append(
            Entry(
                gate=item["gate"],
                path=item["path"],
                rule=item["rule"],
                fingerprint=item["fingerprint"],
                severity=severity,
            )
        )
    return tuple(sorted(out))


def render(entries: Iterable[Entry]) -> bytes:
    """The file's bytes: one entry a line, sorted, so that review sees each change."""
    lines = [_line(e) for e in sorted(entries)]
    body = ",\n    ".join(lines)
    entries_text = f"[\n    {body}\n  ]" if lines else "[]"
    return f'{{\n  "version": {FORMAT},\n  "entries": {entries_text}\n}}\n'.encode()


def _line(entry: Entry) -> str:
    text = json.dumps(entry.to_dict(), ensure_ascii=False)  # non-ASCII names stay readable
    try:
        text.encode()
    except UnicodeEncodeError:
        # A name that is not UTF-8 (its bytes kept as surrogate escapes): written as
        # \udcXX escapes, which read back as exactly that path.
        return json.dumps(entry.to_dict())
    return text


def write(path: Path, entries: Iterable[Entry]) -> None:
    """Replace the file atomically: a reader never sees half a baseline."""
    data = render(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def candidates(findings: Iterable[Finding], fail_on: Severity) -> list[Finding]:
    """The findings a baseline can hold: those that would block (not waived, not ours)."""
    return [f for f in findings if _candidate(f, fail_on)]


def _candidate(f: Finding, fail_on: Severity) -> bool:
    return f.severity >= fail_on and not f.waiver and not f.known_debt and f.rule not in OWN_RULES


def match(entries: Sequence[Entry], findings: Sequence[Finding]) -> tuple[list[int], list[Entry]]:
    """Which findings (by index) entries cover, one finding an entry; and the unused entries."""
    pool: dict[tuple[str, str, str, str], list[Entry]] = {}
    for e in entries:
        pool.setdefault(e.key, []).append(e)
    covered = []
    # Worst findings first, each taking the least severe entry that covers it: no
    # finding is left uncovered while an unused entry could cover it.
    order = sorted(range(len(findings)), key=lambda n: -findings[n].severity)
    for n in order:
        f = findings[n]
        bucket = pool.get(Entry.of(f).key)
        if not bucket:
            continue
        # The entry with the lowest sufficient severity: the others stay for worse twins.
        fits = [e for e in bucket if e.covers(f)]
        if fits:
            chosen = min(fits, key=lambda e: e.severity)
            bucket.remove(chosen)
            covered.append(n)
    stale = sorted(e for bucket in pool.values() for e in bucket)
    return sorted(covered), stale


def stale_blocks(settings: Settings) -> bool:
    """Whether stale entries fail the gate: ``baseline_stale`` (ci = fail only in CI)."""
    from .policy import in_ci

    mode = setting(settings, "baseline_stale")
    return mode == "fail" or (mode == "ci" and in_ci())


def own_files(settings: Settings) -> list[str]:
    """The baseline as an inventory exclude: our own output is never a gate's input.

    Its fingerprints are hex digests, which an entropy check would take for secrets.
    """
    rel = _display(path_of(settings), settings.root)
    return [] if rel.startswith("/") else [f"/{rel}"]


def apply(
    settings: Settings,
    gate: str,
    analysis: Analysis,
    gate_settings: GateSettings,
    *,
    partial: bool = False,
) -> Analysis:
    """Mark the gate's known debt (baseline, old code); add what the baseline itself demands.

    ``partial``: the gate saw only some files (``--gates-changed``), so an entry no
    finding matched may be of a file it did not look at; staleness is not judged.
    """
    new_code_only = bool(gate_settings.values.get("new_code_only"))
    path = path_of(settings)
    if analysis.problems:
        return analysis  # a gate that could not judge says nothing about its debt
    try:
        baseline = load(path)
    except BaselineError as exc:
        return replace(
            analysis,
            problems=(
                f"the baseline {exc}. Fix it, or delete it and record it anew with "
                "`platformgates baseline` (a baseline that cannot be read never passes a gate)",
            ),
        )
    if not baseline.exists and not new_code_only:
        return analysis
    fail_on = gate_settings.fail_on
    findings = list(analysis.findings)
    notes = list(analysis.notes)
    figures: dict[str, Any] = dict(analysis.figures)
    extra: list[Finding] = []
    name = _display(path, settings.root)
    if baseline.exists:
        entries = baseline.for_gate(gate)
        figures.update(
            known_debt=0,
            baseline_entries=len(entries),
            baseline_stale=0,
            baseline_sha256=baseline.sha256,
        )
        figures.update(_at_base(settings, path, gate))
        cap = int(setting(settings, "baseline_max_entries"))
        if entries and not gate_settings.values.get("allow_baseline", True):
            extra.append(
                _own_finding(
                    gate,
                    RULE_FORBIDDEN,
                    fail_on,
                    name,
                    f"the baseline lists {len(entries)} finding(s) of gate {gate!r}, but the "
                    f"policy forbids a baseline for it (gates.{gate}.allow_baseline = false); "
                    "they are not honoured",
                    f"fix the findings and remove their entries (`platformgates baseline "
                    f"--prune --gate {gate}`)",
                )
            )
        elif len(baseline.entries) > cap:
            extra.append(
                _own_finding(
                    gate,
                    RULE_CAP,
                    fail_on,
                    name,
                    f"the baseline holds {len(baseline.entries)} entries, more than the "
                    f"policy's cap of {cap} (baseline_max_entries); it is not honoured",
                    "fix findings and prune the baseline below the cap",
                )
            )
        elif entries:
            index = [n for n, f in enumerate(findings) if _candidate(f, fail_on)]
            covered, stale = match(entries, [findings[n] for n in index])
            for n in covered:
                findings[index[n]] = replace(findings[index[n]], known_debt=DEBT_BASELINE)
            stale = [] if partial else stale
            figures.update(known_debt=len(covered), baseline_stale=len(stale))
            if stale:
                text = (
                    f"baseline can drop {len(stale)} entr{'ies' if len(stale) != 1 else 'y'} "
                    f"of gate {gate!r}: the findings are fixed"
                )
                hint = "run `platformgates baseline --prune` and commit the smaller baseline"
                if stale_blocks(settings):
                    extra.append(
                        _own_finding(gate, RULE_STALE, fail_on, name, text, hint + _why(settings))
                    )
                else:
                    notes.append(f"{text}; {hint}")
    if new_code_only:
        base = str(setting(settings, "base"))
        try:
            changes = changes_since(settings.root, base, timeout=gate_settings.timeout)
        except ChangesError as exc:
            return replace(
                analysis,
                problems=(f"new_code_only: what changed since {base!r} is unknown: {exc}",),
            )
        old = 0
        for n, f in enumerate(findings):
            if not _candidate(f, fail_on) or not f.path or f.line <= 0:
                continue  # a finding with no line to place it stays blocking
            if f.line not in changes.lines.get(f.path, ()):
                findings[n] = replace(f, known_debt=DEBT_OLD_CODE)
                old += 1
        figures.update(known_debt_old_code=old, new_code_base=base, new_code_commit=changes.commit)
    return replace(analysis, findings=(*findings, *extra), notes=tuple(notes), figures=figures)


def _why(settings: Settings) -> str:
    mode = setting(settings, "baseline_stale")
    if mode == "ci":
        return " (stale entries fail in CI: baseline_stale = 'ci')"
    return " (the policy fails stale entries: baseline_stale = 'fail')"


def _own_finding(
    gate: str, rule: str, fail_on: Severity, name: str, message: str, hint: str
) -> Finding:
    # At the gate's own fail_on, so that it blocks whatever the threshold (as waivers do).
    return Finding(
        gate=gate,
        rule=rule,
        severity=fail_on,
        path=name,
        line=0,
        message=message,
        hint=hint,
        fingerprint=fingerprint(gate, rule, name, "", 0),
    )


def _at_base(settings: Settings, path: Path, gate: str) -> dict[str, Any]:
    """The gate's entry count in the baseline at the merge-base with ``base``, when known.

    Evidence only: an unknown base leaves the figures out instead of failing the gate.
    """
    base = str(setting(settings, "base"))
    try:
        rel = path.resolve().relative_to(settings.root.resolve()).as_posix()
        commit = merge_base(settings.root, base, timeout=30)
        text = file_at(settings.root, commit, rel, timeout=30)
    except (ChangesError, ValueError, OSError):
        return {}
    count = 0
    if text is not None:
        try:
            count = sum(1 for e in parse(text.encode(), rel) if e.gate == gate)
        except BaselineError:
            return {"baseline_base_commit": commit, "baseline_entries_base": "unreadable"}
    return {"baseline_base_commit": commit, "baseline_entries_base": count}


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def evidence(settings: Settings, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The baseline as the evidence records it: the file's digest and size, debt per gate.

    A baseline edited to hide a finding changes the digest and the counts, and the
    entries at ``base`` show how the debt moved on this branch.
    """
    path = path_of(settings)
    out: dict[str, Any] = {"path": _display(path, settings.root)}
    try:
        found = load(path)
    except BaselineError as exc:
        return {**out, "error": str(exc)}
    gates: dict[str, dict[str, Any]] = {}
    for record in records:
        figures = record.get("figures", {})
        debt = Counter(str(f.get("known_debt")) for f in record["findings"] if f.get("known_debt"))
        if not debt and "baseline_entries" not in figures:
            continue
        entry = {
            "known_debt": debt.get(DEBT_BASELINE, 0),
            "known_debt_old_code": debt.get(DEBT_OLD_CODE, 0),
        }
        for key in ("baseline_entries", "baseline_stale", "baseline_entries_base"):
            if key in figures:
                entry[key.removeprefix("baseline_")] = figures[key]
        gates[record["gate"]] = entry
    return {
        **out,
        "exists": found.exists,
        "sha256": found.sha256,
        "entries": len(found.entries),
        "entries_per_gate": found.counts(),
        "gates": gates,
    }


# -- `platformgates baseline` -------------------------------------------------------


@dataclass(frozen=True)
class GateDiff:
    """One gate's current blocking findings against its baseline entries."""

    gate: str
    kept: tuple[Entry, ...]
    new: tuple[Finding, ...]
    stale: tuple[Entry, ...]
    allowed: bool

    def entries(self, *, add: bool, prune: bool) -> list[Entry]:
        """The entries after an update: grown only with ``add``, shrunk only with ``prune``."""
        if not self.allowed:
            return [] if prune else list(self.stale)
        out = [*self.kept]
        if add:
            out += [Entry.of(f) for f in self.new]
        if not prune:
            out += self.stale
        return out


def diff(
    gate: str,
    entries: Sequence[Entry],
    findings: Sequence[Finding],
    fail_on: Severity,
    allowed: bool = True,
) -> GateDiff:
    """Compare a gate's blocking findings (whatever debt marks they carry) with its entries."""
    current = candidates([replace(f, known_debt="") for f in findings], fail_on)
    if not allowed:  # nothing is honoured: every finding blocks, every entry is dead
        return GateDiff(gate, (), tuple(current), tuple(sorted(entries)), allowed)
    covered, stale = match(entries, current)
    used = set(covered)
    return GateDiff(
        gate=gate,
        kept=tuple(_without(entries, stale)),
        new=tuple(f for n, f in enumerate(current) if n not in used),
        stale=tuple(stale),
        allowed=allowed,
    )


def _without(entries: Sequence[Entry], remove: Sequence[Entry]) -> list[Entry]:
    left = Counter(remove)
    out = []
    for e in sorted(entries):
        if left[e]:
            left[e] -= 1
        else:
            out.append(e)
    return out


def command(
    settings: Settings,
    gates: Mapping[str, Any],
    *,
    names: Sequence[str] = (),
    add: bool = False,
    prune: bool = False,
    cache: Any = None,
) -> tuple[list[str], int]:
    """``platformgates baseline``: what it prints and its exit status.

    The gates run here, in this process, through the same runner pytest uses (waivers
    applied), so the findings are exactly those a ``pytest`` run judges. Without a
    baseline file it records every blocking finding. With one, it writes only what
    ``--add`` (new findings) and ``--prune`` (stale entries) ask for, and otherwise
    reports the difference and exits 1: re-running it never grows the baseline quietly.
    Exit 2: the configuration or the baseline file is unusable; 1: differences left or
    a gate could not judge (nothing is written then). A ``session_bound`` gate (coverage)
    has nothing to judge outside a pytest session: it is left out, with a line saying
    so, unless named, which is an error.
    """
    from .runner import GateRunner

    path = path_of(settings)
    name = _display(path, settings.root)
    try:
        old = load(path)
    except BaselineError as exc:
        return [
            f"platformgates baseline: error: the baseline {exc}; fix it, or delete it and "
            "run `platformgates baseline` again"
        ], 2
    enabled = sorted(n for n, g in settings.gates.items() if g.enabled)
    for n in names:
        if n not in settings.gates:
            known = ", ".join(sorted(settings.gates)) or "none"
            return [f"platformgates baseline: error: no such gate {n!r} (registered: {known})"], 2
        if n not in enabled:
            return [f"platformgates baseline: error: gate {n!r} is disabled in the project"], 2
        if _session_bound(gates[n]):
            return [f"platformgates baseline: error: {_session_bound_reason(n)}"], 2
    # A gate that judges the test session's own measurement cannot run here: by default
    # it is left out, saying so, rather than failing the whole command on every project.
    left_out = [] if names else [n for n in enabled if _session_bound(gates[n])]
    selected = sorted(set(names)) if names else [n for n in enabled if n not in left_out]
    lines: list[str] = [
        f"{n}: left out: {_session_bound_reason(n)}; its entries in {name}, if any, are kept"
        for n in left_out
    ]
    if not selected:
        lines.append(
            "platformgates baseline: nothing written: no enabled gate can be judged by this command"
        )
        return lines, 1
    runner = GateRunner(settings, {n: gates[n] for n in selected}, cache)
    diffs: list[GateDiff] = []
    failed: list[str] = []
    for gate in selected:
        result = runner.result(gate)
        if result.problems:
            failed.append(gate)
            lines.append(f"{gate}: could not be evaluated, so it cannot be baselined:")
            lines += [f"  - {p.splitlines()[0] if p else p}" for p in result.problems]
            continue
        allowed = bool(settings.gates[gate].values.get("allow_baseline", True))
        d = diff(gate, old.for_gate(gate), result.findings, result.fail_on, allowed)
        diffs.append(d)
        lines += _diff_lines(d, first=not old.exists, add=add, prune=prune)
    if failed:
        lines.append(
            f"platformgates baseline: nothing written: {', '.join(failed)} could not be "
            "evaluated (fix that first; a baseline of a gate that did not judge would be empty)"
        )
        return lines, 1
    touched = {d.gate for d in diffs}
    grow = add or not old.exists
    entries = [e for e in old.entries if e.gate not in touched]
    for d in diffs:
        entries += d.entries(add=grow, prune=prune)
    entries.sort()
    cap = int(setting(settings, "baseline_max_entries"))
    if len(entries) > cap:
        lines.append(
            f"platformgates baseline: nothing written: {len(entries)} entries would exceed the "
            f"policy's cap of {cap} (baseline_max_entries); fix findings first"
        )
        return lines, 1
    left = [
        d
        for d in diffs
        if (d.new and d.allowed and not grow)
        or (d.new and not d.allowed)
        or (d.stale and not prune)
    ]
    if not old.exists or tuple(entries) != old.entries:
        write(path, entries)
        counts = Counter(e.gate for e in entries)
        per_gate = ", ".join(f"{g} {n}" for g, n in sorted(counts.items())) or "none"
        lines.append(f"wrote {name}: {len(entries)} entries ({per_gate}); review and commit it")
    else:
        lines.append(f"{name}: unchanged, {len(entries)} entries")
    return lines, 1 if left else 0


def _session_bound(gate: Any) -> bool:
    """Whether the gate judges what the pytest session itself measured (the coverage gate)."""
    return bool(getattr(gate, "session_bound", False))


def _session_bound_reason(gate: str) -> str:
    """Why ``platformgates baseline`` cannot record a session-bound gate, and what to do."""
    return (
        f"the {gate} gate judges what a pytest session measures while the tests run, and "
        "`platformgates baseline` runs no tests, so it cannot record that gate's findings "
        f"(`pytest` still judges them: adopt the gate through [tool.platformgates.gates.{gate}] "
        "instead, such as the coverage gate's `new_code` or `ratchet`)"
    )


def _diff_lines(d: GateDiff, *, first: bool, add: bool, prune: bool) -> list[str]:
    out = []
    if not d.allowed:
        if d.new:
            out.append(
                f"{d.gate}: the policy forbids a baseline for this gate "
                f"(allow_baseline = false): its {len(d.new)} blocking finding(s) must be fixed"
            )
        if d.stale:
            verb = "removed" if prune else "remove them with --prune"
            out.append(f"{d.gate}: {len(d.stale)} entries the policy does not honour: {verb}")
        return out
    if d.new:
        if first or add:
            out.append(f"{d.gate}: {len(d.new)} finding(s) recorded as known debt")
        else:
            out.append(
                f"{d.gate}: {len(d.new)} new finding(s) not in the baseline "
                "(they block; fix them, or accept them with --add):"
            )
            out += [
                f"  {f.location}  {f.severity.label}  {f.rule}  {f.fingerprint[:12]}"
                for f in d.new[:50]
            ]
    if d.stale:
        verb = "dropped" if prune else "run with --prune to drop them"
        out.append(f"{d.gate}: baseline can drop {len(d.stale)} entries (fixed): {verb}")
    if d.kept and not (d.new or d.stale):
        out.append(f"{d.gate}: {len(d.kept)} entries, all still found")
    return out
