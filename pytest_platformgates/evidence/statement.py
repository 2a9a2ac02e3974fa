"""``evidence.json``: an in-toto Statement v1 about the tested commit.

The subject is the git commit (``gitCommit`` digest) and the sha256 of every
report in the bundle; the predicate records who ran what, when, under which
policy, and what every gate concluded. ``docs/evidence.md`` is the schema.
Findings are recorded as the gates reported them, and a finding never carries
source text, so no secret value reaches the statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .. import __version__, baseline
from . import streaming
from .run import EvidenceRun

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://pytest-platformgates.readthedocs.io/en/latest/evidence/#predicate-v1"
PREDICATE_VERSION = 1
COMMIT_SUBJECT = "git-commit"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(
    run: EvidenceRun,
    reports: Mapping[str, str],
    artifacts: Mapping[str, tuple[str, str]],
    signature: Mapping[str, Any],
) -> bytes:
    """The statement as bytes (this is also the DSSE payload, byte for byte).

    ``reports`` are the sha256 digests of the bundle's files the statement covers, by
    name; ``artifacts`` maps a gate-provided file's name to (gate, sha256);
    ``signature`` says whether, and with which key, the envelope is signed.
    """
    subject: list[dict[str, Any]] = []
    if run.facts.git.commit:
        subject.append({"name": COMMIT_SUBJECT, "digest": {"gitCommit": run.facts.git.commit}})
    subject += [
        {"name": name, "digest": {"sha256": digest}} for name, digest in sorted(reports.items())
    ]
    body = predicate(run, artifacts, signature)
    # Every gate's findings are encoded a chunk at a time (streaming.py): byte for byte
    # what json.dumps of the whole statement gives, without its tree of objects.
    fills = {}
    for entry in body["gates"]:
        fills[key := streaming.placeholder()] = entry["findings"]
        entry["findings"] = key
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": body,
    }
    # No indent: json's C encoder only runs without one; `jq .` reads it for people.
    return streaming.encode(statement, fills, sort_keys=True) + b"\n"


def predicate(
    run: EvidenceRun, artifacts: Mapping[str, tuple[str, str]], signature: Mapping[str, Any]
) -> dict[str, Any]:
    facts = run.facts
    settings = run.settings
    try:
        source = settings.source.resolve().relative_to(settings.root.resolve()).as_posix()
    except ValueError:
        source = str(settings.source)
    gates = []
    for record in run.records:
        entry = {k: v for k, v in record.items() if k != "artifacts"}
        entry["counts"] = run.severity_counts(record)
        entry["artifacts"] = {
            name: digest for name, (gate, digest) in artifacts.items() if gate == record["gate"]
        }
        gates.append(entry)
    return {
        "version": PREDICATE_VERSION,
        "producer": {"name": "pytest-platformgates", "version": __version__},
        "verdict": run.verdict,
        "gates_passed": run.gates_passed,
        "required_gates": run.required,
        "verdicts": run.verdicts(),
        "run": {
            "started": facts.started,
            "finished": facts.finished,
            "exit_status": facts.exit_status,
            "invocation": list(facts.invocation),
            "tests": dict(facts.tests),
            "notes": list(facts.notes),
            "partial": dict(facts.partial) if facts.partial is not None else None,
        },
        "git": facts.git.to_dict(),
        "identity": dict(facts.identity),
        "software": dict(facts.software),
        "policy": {
            "digest": settings.digest,
            "source": source,
            "effective": settings.effective(),
        },
        "gates": gates,
        "waivers": run.waivers(),
        "baseline": baseline.evidence(settings, run.records),
        "signature": dict(signature),
    }
