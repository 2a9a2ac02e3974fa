"""What every writer reads: the gates' results as plain records, the settings, the facts.

Writers work on the JSON form of :class:`~pytest_platformgates.model.GateResult`
(``to_dict()``), the same form that lands in the evidence statement, so a key a
later core release adds to that form (waivers, for one) reaches every format
without a writer reaching into a gate.

Two optional keys are read when present, so that waivers show everywhere as soon as
the policy layer records them: a finding may carry ``waiver`` (``id``, ``reason``,
``owner``, ``approved_by``, ``expires``), and a result may carry ``waivers`` (every
waiver of that gate with its ``status``: applied, expired, stale…).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ..model import GateResult, Severity

if TYPE_CHECKING:
    from ..config import Settings
    from .provenance import RunFacts

NOT_RUN = "not run"
_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, with U+FFFD for each lone surrogate in it.

    A file name that is not UTF-8 reaches the writers as git and the inventory keep it,
    its bytes as surrogate escapes; no JSON, XML or HTML document can carry one
    (RFC 8259 section 8.2), and refusing it lost the whole bundle.
    """
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


def finding_id(finding: Mapping[str, Any]) -> str:
    """The finding's fingerprint, or a line-free stand-in for gates that set none."""
    if finding.get("fingerprint"):
        return str(finding["fingerprint"])
    raw = "\x1f".join(
        str(finding.get(k, "")) for k in ("gate", "rule", "path", "message", "severity")
    )
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class EvidenceRun:
    """One session's evidence inputs."""

    records: tuple[Mapping[str, Any], ...]
    settings: Settings
    facts: RunFacts

    @classmethod
    def build(cls, results: Sequence[GateResult], settings: Settings, facts: RunFacts):
        records = tuple(r.to_dict() for r in sorted(results, key=lambda r: r.gate))
        return cls(records=records, settings=settings, facts=facts)

    @property
    def required(self) -> list[str]:
        """The gates the policy enables: each must have run and passed."""
        return sorted(name for name, g in self.settings.gates.items() if g.enabled)

    def verdicts(self) -> dict[str, str]:
        """Every required or reported gate's verdict; a required gate that did not run says so."""
        out = {name: NOT_RUN for name in self.required}
        out.update({r["gate"]: r["verdict"] for r in self.records})
        return dict(sorted(out.items()))

    @property
    def gates_passed(self) -> bool:
        verdicts = self.verdicts()
        return bool(verdicts) and all(verdicts[name] == "passed" for name in self.required)

    @property
    def verdict(self) -> str:
        """passed only when every required gate passed and pytest itself exited 0."""
        return "passed" if self.gates_passed and self.facts.exit_status == 0 else "failed"

    def severity_counts(self, record: Mapping[str, Any]) -> dict[str, int]:
        """``record``'s findings by severity, highest first (a copy: callers may keep it)."""
        return dict(self._counts[record["gate"]])

    @cached_property
    def _counts(self) -> dict[str, dict[str, int]]:
        # Counted once per run for the statement, the metrics and the report alike.
        out: dict[str, dict[str, int]] = {}
        for record in self.records:
            counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
            for finding in record["findings"]:
                counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
            out[record["gate"]] = counts
        return out

    def waivers(self) -> list[dict[str, Any]]:
        """Waivers the gates reported, and the ones their findings carry, once each."""
        return [dict(w) for w in self._waivers]

    @cached_property
    def _waivers(self) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for record in self.records:
            for waiver in record.get("waivers", ()):
                entry = {"gate": record["gate"], **dict(waiver)}
                seen[(record["gate"], str(entry.get("id", "")))] = entry
            for finding in record["findings"]:
                waiver = finding.get("waiver")
                if not waiver:
                    continue
                key = (record["gate"], str(waiver.get("id", "")))
                entry = seen.setdefault(
                    key, {"gate": record["gate"], "status": "applied", **dict(waiver)}
                )
                entry.setdefault("findings", []).append(finding_id(finding))
        return [seen[k] for k in sorted(seen)]
