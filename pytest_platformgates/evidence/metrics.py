"""``metrics.prom``: OpenMetrics text for dashboards and alerting.

Gate durations, findings by gate and severity, each gate's verdict (as a stateset
and as a plain 0/1 gauge), and the run's overall outcome. Written for a textfile
collector or a push gateway; the format ends with ``# EOF`` as OpenMetrics requires.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..model import Severity
from .run import NOT_RUN, EvidenceRun

PREFIX = "platformgates"
VERDICTS = ("passed", "failed", "error", NOT_RUN)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


def _family(name: str, kind: str, help_text: str, unit: str = "") -> list[str]:
    lines = [f"# TYPE {name} {kind}"]
    if unit:
        lines.append(f"# UNIT {name} {unit}")
    lines.append(f"# HELP {name} {help_text}")
    return lines


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(run: EvidenceRun) -> bytes:
    lines: list[str] = []
    verdicts = run.verdicts()
    records = {r["gate"]: r for r in run.records}

    name = f"{PREFIX}_gate_duration_seconds"
    lines += _family(name, "gauge", "Wall-clock time the gate took.", unit="seconds")
    for gate, record in records.items():
        lines.append(f"{name}{_labels(gate=gate)} {_number(float(record['duration']))}")

    name = f"{PREFIX}_findings"
    lines += _family(name, "gauge", "Findings by gate and severity (waived ones included).")
    for gate, record in records.items():
        for severity, count in run.severity_counts(record).items():
            lines.append(f"{name}{_labels(gate=gate, severity=severity)} {count}")

    name = f"{PREFIX}_blocking_findings"
    lines += _family(name, "gauge", "Findings at or above the gate's fail_on severity.")
    for gate, record in records.items():
        fail_on = Severity.parse(record["fail_on"])
        blocking = sum(1 for f in record["findings"] if Severity.parse(f["severity"]) >= fail_on)
        lines.append(f"{name}{_labels(gate=gate)} {blocking}")

    name = f"{PREFIX}_known_debt"
    lines += _family(name, "gauge", "Blocking-severity findings accepted as known debt.")
    for gate, record in records.items():
        debt = sum(1 for f in record["findings"] if f.get("known_debt"))
        lines.append(f"{name}{_labels(gate=gate)} {debt}")

    name = f"{PREFIX}_gate_verdict"
    lines += _family(name, "stateset", "The gate's verdict.")
    for gate, verdict in verdicts.items():
        for state in VERDICTS:
            value = 1 if verdict == state else 0
            lines.append(f"{name}{_labels(gate=gate, **{name: state})} {value}")

    name = f"{PREFIX}_gate_passed"
    lines += _family(name, "gauge", "1 when the gate passed, 0 otherwise (also when not run).")
    for gate, verdict in verdicts.items():
        lines.append(f"{name}{_labels(gate=gate)} {int(verdict == 'passed')}")

    name = f"{PREFIX}_run_passed"
    lines += _family(name, "gauge", "1 when every required gate passed and pytest exited 0.")
    lines.append(f"{name} {int(run.verdict == 'passed')}")

    name = f"{PREFIX}_run_exit_status"
    lines += _family(name, "gauge", "pytest's exit status.")
    lines.append(f"{name} {run.facts.exit_status}")

    lines.extend(_info(run))
    lines.append("# EOF")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _info(run: EvidenceRun) -> Iterable[str]:
    name = f"{PREFIX}_run"
    labels = {
        "commit": run.facts.git.commit or "",
        "policy_digest": run.settings.digest,
    }
    yield from _family(name, "info", "The commit and policy the run judged.")
    yield f"{name}_info{_labels(**labels)} 1"
