"""Helpers for the evidence tests: a scriptable gate, keys, bundles built without pytest."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pytest_platformgates.config import GateSettings, Settings
from pytest_platformgates.evidence import bundle, dsse
from pytest_platformgates.evidence.provenance import GitState, RunFacts
from pytest_platformgates.evidence.run import EvidenceRun

DATA = Path(__file__).parent / "data"
# Options of every inner run. pytester drops modules an inner run imported, so the
# hypothesis plugin re-imported hypothesis (about 2-4 s) in each run's terminal summary.
INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

# A project-local plugin (``plugins = ["probe_gates"]``) whose gate reports exactly what
# probe.json in the project says: findings, problems, figures and artifacts on demand.
# Its text never changes, so the module cached in sys.modules is always the right one.
PROBE_PLUGIN = """import json

from pytest_platformgates import Analysis, Finding, Gate, Severity, hookimpl


class Probe(Gate):
    name = "probe"
    description = "reports what probe.json says"

    def check(self, ctx):
        data = json.loads((ctx.root / "probe.json").read_text(encoding="utf-8"))
        in_scope = [f.path for f in ctx.inventory.files]
        findings = tuple(
            Finding(
                gate="probe",
                rule=f["rule"],
                severity=Severity.parse(f["severity"]),
                path=f.get("path", ""),
                line=f.get("line", 0),
                message=f["message"],
                hint=f.get("hint", ""),
                fingerprint=f.get("fingerprint", ""),
            )
            for f in data.get("findings", [])
        )
        return Analysis(
            findings=findings,
            problems=tuple(data.get("problems", [])),
            figures={
                **data.get("figures", {}),
                "evidence_in_scope": sum("evidence" in p for p in in_scope),
            },
            tool_versions={"probe": "1.0"},
            artifacts=data.get("artifacts", {}),
        )


@hookimpl
def platformgates_gates():
    return [Probe()]
"""


def probe_project(
    project: Any, probe: Mapping[str, Any], gates: Mapping[str, Any] | None = None, **top: Any
) -> None:
    """Configure ``project`` with the probe gate (plus ``gates``) and commit it."""
    project.write("probe_gates.py", PROBE_PLUGIN)
    project.write("probe.json", json.dumps(probe))
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    project.write(".gitignore", "gate-evidence/\n__pycache__/\n")
    project.configure({"probe": {}, **(gates or {})}, plugins=["probe_gates"], **top)
    project.commit()


def keypair(where: Path, name: str = "key") -> tuple[Path, Path]:
    """An Ed25519 private key and its public key, as PEM files."""
    key = Ed25519PrivateKey.generate()
    private = where / f"{name}.pem"
    public = where / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def settings(root: Path, gates: Sequence[str] = ("lint",), fail_on: str = "high") -> Settings:
    values = {
        "paths": [],
        "exclude": [],
        "fail_on": fail_on,
        "evidence_dir": "gate-evidence",
        "max_file_size": 10485760,
        "plugins": [],
    }
    gate_settings = {
        name: GateSettings(name, {"enabled": True, "fail_on": fail_on, "timeout": 600})
        for name in gates
    }
    return Settings(root=root, source=root / "pyproject.toml", values=values, gates=gate_settings)


def finding(
    rule: str = "X1", severity: str = "high", path: str = "pkg/mod.py", line: int = 3, **extra: Any
) -> dict[str, Any]:
    base = {
        "gate": "lint",
        "rule": rule,
        "severity": severity,
        "path": path,
        "line": line,
        "column": 0,
        "message": f"{rule} happened",
        "hint": "",
        "fingerprint": f"fp-{rule}-{path}-{severity}",
        "url": "",
    }
    base.update(extra)
    return base


def record(
    gate: str = "lint", verdict: str = "passed", findings: Sequence[Mapping] = (), **extra: Any
) -> dict[str, Any]:
    base = {
        "gate": gate,
        "verdict": verdict,
        "fail_on": "high",
        "findings": [dict(f, gate=gate) for f in findings],
        "problems": [],
        "figures": {"files_checked": 2},
        "tool_versions": {"ruff": "0.0.1"},
        "notes": [],
        "duration": 0.25,
        "artifacts": {},
    }
    base.update(extra)
    return base


def facts(
    commit: str | None = "a" * 40, exit_status: int = 0, dirty: bool = False, **extra: Any
) -> RunFacts:
    values = {
        "git": GitState(
            commit=commit, branch="main", dirty=dirty, changed=("pkg/mod.py",) if dirty else ()
        ),
        "identity": {"ci": False, "provider": "local", "variables": {}, "user": "u", "host": "h"},
        "software": {"python": "3.11", "packages": {}},
        "started": "2026-01-01T00:00:00Z",
        "finished": "2026-01-01T00:00:05Z",
        "exit_status": exit_status,
        "tests": {"tests": 2, "failures": 0, "errors": 0, "skipped": 0},
    }
    values.update(extra)
    return RunFacts(**values)


def make_run(
    root: Path,
    records: Sequence[Mapping[str, Any]],
    gates: Sequence[str] | None = None,
    **fact_values: Any,
) -> EvidenceRun:
    names = gates if gates is not None else [r["gate"] for r in records]
    return EvidenceRun(
        records=tuple(records), settings=settings(root, names), facts=facts(**fact_values)
    )


JUNIT = (
    b'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
    b'<testsuite name="pytest" errors="0" failures="0" skipped="0" tests="2" time="0.1">'
    b'<testcase classname="test_ok" name="test_ok" time="0.001" /></testsuite></testsuites>'
)


def write_bundle(
    run: EvidenceRun, signer: dsse.Signer | None = None, junit: bytes | None = JUNIT
) -> Path:
    target = run.settings.evidence_dir
    bundle.write(target, run.settings.root, bundle.compose(run, junit, signer))
    return target


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout
