"""The findings model shared by every gate, the cache and the evidence writers.

Everything here is a frozen dataclass that round-trips through plain JSON
(``to_dict``/``from_dict``): results cross process boundaries (xdist workers,
background runners) and land in the cache and the evidence bundle.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that ``finding.severity >= fail_on`` blocks."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        # A table, not ``self.name.lower()``: asked several times of every finding.
        return _LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return _BY_NAME[value.upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {value!r} (choose from {choices})") from None

    def __str__(self) -> str:
        return self.label


_LABELS = {s: s.name.lower() for s in Severity}
_BY_NAME = {s.name: s for s in Severity}


class Verdict(str, enum.Enum):
    """The outcome of one gate: it held, it found blocking findings, or it could not judge."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One problem a gate found.

    ``fingerprint`` identifies the finding independently of its line number (rule,
    path, the normalised source line and its occurrence index), so that baselines and
    waivers survive unrelated edits. A finding never carries source text: for secrets
    the line *is* the secret.
    """

    gate: str
    rule: str
    severity: Severity
    path: str
    line: int
    message: str
    column: int = 0
    hint: str = ""
    fingerprint: str = ""
    url: str = ""
    # Other names of the same problem (an advisory's CVE/GHSA/PYSEC aliases): a waiver or
    # baseline entry written against any of them covers the finding.
    aliases: tuple[str, ...] = field(default=(), compare=False)
    # The waiver that covers this finding (id, reason, owner, approved_by, expires,
    # days_left), set by the policy layer: a waived finding is recorded, never blocking.
    waiver: Mapping[str, Any] | None = field(default=None, compare=False)
    # Why an otherwise blocking finding is accepted as known debt, set by baseline.py:
    # "baseline" (the committed baseline lists it) or "old code" (new_code_only, and it
    # is not on a line changed since base). Counted and reported, never blocking.
    known_debt: str = field(default="", compare=False)

    @property
    def location(self) -> str:
        if not self.path:
            return "<project>"
        if self.line:
            return f"{self.path}:{self.line}" + (f":{self.column}" if self.column else "")
        return self.path

    def to_dict(self) -> dict[str, Any]:
        data = {
            "gate": self.gate,
            "rule": self.rule,
            "severity": self.severity.label,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "hint": self.hint,
            "fingerprint": self.fingerprint,
            "url": self.url,
        }
        if self.aliases:
            data["aliases"] = list(self.aliases)
        if self.waiver:
            data["waiver"] = dict(self.waiver)
        if self.known_debt:
            data["known_debt"] = self.known_debt
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        # Past the frozen __init__ (keyword arguments, then one object.__setattr__ a
        # field): a warm run loads every cached finding, 45,000 at 4x Django, for a third
        # less. Set in field order, so that instances share their attribute layout
        # (a dict of their own each would take 2.7x the memory). tests/test_model.py
        # checks this builds exactly what the constructor builds.
        aliases = data.get("aliases")
        waiver = data.get("waiver")
        finding = object.__new__(cls)
        put = object.__setattr__
        put(finding, "gate", str(data["gate"]))
        put(finding, "rule", str(data["rule"]))
        put(finding, "severity", Severity.parse(str(data["severity"])))
        put(finding, "path", str(data["path"]))
        put(finding, "line", int(data["line"]))
        put(finding, "message", str(data["message"]))
        put(finding, "column", int(data.get("column", 0)))
        put(finding, "hint", str(data.get("hint", "")))
        put(finding, "fingerprint", str(data.get("fingerprint", "")))
        put(finding, "url", str(data.get("url", "")))
        put(finding, "aliases", tuple(str(a) for a in aliases) if aliases else ())
        put(finding, "waiver", dict(waiver) if waiver else None)
        put(finding, "known_debt", str(data.get("known_debt") or ""))
        return finding


def fingerprint(gate: str, rule: str, path: str, line_text: str, occurrence: int) -> str:
    """A line-number-free identity: moving code keeps it, a second identical finding differs."""
    normalised = " ".join(line_text.split())
    raw = "\x1f".join((gate, rule, path, normalised, str(occurrence)))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def with_fingerprints(findings: Iterable[Finding], lines: Sequence[str]) -> list[Finding]:
    """Fill in the fingerprints of one file's findings from that file's lines."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for f in sorted(findings, key=_order):
        text = lines[f.line - 1] if 0 < f.line <= len(lines) else ""
        key = (f.rule, " ".join(text.split()))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        out.append(replace(f, fingerprint=fingerprint(f.gate, f.rule, f.path, text, occurrence)))
    return out


def _order(f: Finding) -> tuple[str, int, int, str]:
    return (f.path, f.line, f.column, f.rule)


@dataclass(frozen=True)
class Analysis:
    """What a gate hands back to the core: findings and figures, before any policy.

    ``problems`` are reasons the gate could not judge (a crash, a timeout, output it
    could not read). Any problem turns the verdict into an error, whatever the findings.
    """

    findings: tuple[Finding, ...] = ()
    problems: tuple[str, ...] = ()
    figures: Mapping[str, float | int | str] = field(default_factory=dict)
    tool_versions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Files for the evidence bundle by file name (e.g. "sbom.cdx.json"), as text.
    artifacts: Mapping[str, str] = field(default_factory=dict)
    # The gate's waivers with their status (set by the policy layer, see waivers.py).
    waivers: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class GateResult:
    """A gate's judged outcome: the analysis with the severity policy applied."""

    gate: str
    verdict: Verdict
    fail_on: Severity
    findings: tuple[Finding, ...] = ()
    problems: tuple[str, ...] = ()
    figures: Mapping[str, float | int | str] = field(default_factory=dict)
    tool_versions: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    duration: float = 0.0
    artifacts: Mapping[str, str] = field(default_factory=dict)
    waivers: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def judge(cls, gate: str, analysis: Analysis, fail_on: Severity, duration: float) -> GateResult:
        """Apply the severity policy: problems are errors, findings at ``fail_on`` fail."""
        findings = tuple(sorted(analysis.findings, key=_order))
        if analysis.problems:
            verdict = Verdict.ERROR
        elif any(f.severity >= fail_on and not (f.waiver or f.known_debt) for f in findings):
            verdict = Verdict.FAILED
        else:
            verdict = Verdict.PASSED
        return cls(
            gate=gate,
            verdict=verdict,
            fail_on=fail_on,
            findings=findings,
            problems=analysis.problems,
            figures=dict(analysis.figures),
            tool_versions=dict(analysis.tool_versions),
            notes=analysis.notes,
            duration=duration,
            artifacts=dict(analysis.artifacts),
            waivers=tuple(analysis.waivers),
        )

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(
            f
            for f in self.findings
            if f.severity >= self.fail_on and not (f.waiver or f.known_debt)
        )

    @property
    def reported(self) -> tuple[Finding, ...]:
        """Findings below ``fail_on``, waived or known debt: shown and recorded, never blocking."""
        return tuple(
            f for f in self.findings if f.severity < self.fail_on or f.waiver or f.known_debt
        )

    def counts(self) -> dict[str, int]:
        counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
        for f in self.findings:
            counts[f.severity.label] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "verdict": self.verdict.value,
            "fail_on": self.fail_on.label,
            "findings": [f.to_dict() for f in self.findings],
            "problems": list(self.problems),
            "figures": dict(self.figures),
            "tool_versions": dict(self.tool_versions),
            "notes": list(self.notes),
            "duration": self.duration,
            "artifacts": dict(self.artifacts),
            "waivers": [dict(w) for w in self.waivers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(
            gate=str(data["gate"]),
            verdict=Verdict(data["verdict"]),
            fail_on=Severity.parse(str(data["fail_on"])),
            findings=tuple(Finding.from_dict(f) for f in data["findings"]),
            problems=tuple(str(p) for p in data["problems"]),
            figures=dict(data.get("figures", {})),
            tool_versions=dict(data.get("tool_versions", {})),
            notes=tuple(str(n) for n in data.get("notes", ())),
            duration=float(data.get("duration", 0.0)),
            artifacts={str(k): str(v) for k, v in data.get("artifacts", {}).items()},
            waivers=tuple(dict(w) for w in data.get("waivers", ())),
        )
