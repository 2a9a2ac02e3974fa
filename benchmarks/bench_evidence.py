"""Benchmark of the evidence bundle: what writing and verifying evidence costs.

Run: ``python benchmarks/bench_evidence.py [--runs 3] [--select ALL]``.

Findings are real: ruff (``--select ALL`` by default, to get many) on the Django
source in ``benchmarks/.corpus/`` (fetched with ``pip download django==5.2.8
--no-deps`` and unpacked there if missing). They become one gate's result, and the
script prints, as medians:

- composing the whole bundle in memory (SARIF, statement, DSSE signature, HTML,
  metrics, manifest) and publishing it atomically, signed with Ed25519;
- ``platformgates verify`` of that bundle (digests, statement, signature);
- for scale, raw ``ruff check --output-format sarif`` on the same files, which only
  writes one SARIF file: the ratio says what the whole bundle costs next to it;
- the fixed cost every gated run pays: a bundle for a small result (no findings).

Timings are wall-clock on a shared machine: expect noise, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus import download, unpack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pytest_platformgates.config import GateSettings, Settings
from pytest_platformgates.evidence import bundle, dsse
from pytest_platformgates.evidence.provenance import GitState, RunFacts, ci_identity, software
from pytest_platformgates.evidence.run import EvidenceRun
from pytest_platformgates.evidence.verify import Expectations, verify
from pytest_platformgates.model import Finding, GateResult, Severity, Verdict

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "benchmarks" / ".corpus"
SEVERITY = {"F": Severity.HIGH, "E": Severity.MEDIUM, "S": Severity.HIGH}


def corpus() -> Path:
    target = CORPUS / "django-5.2.8" / "django"
    if target.is_dir():
        return target
    unpack(download("django", "5.2.8"), CORPUS / "django-5.2.8")
    return target


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def ruff(select: str, fmt: str, source: Path) -> subprocess.CompletedProcess[str]:
    from ruff.__main__ import find_ruff_bin

    return subprocess.run(
        [
            find_ruff_bin(),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            select,
            "--output-format",
            fmt,
            "--exit-zero",
            ".",
        ],
        cwd=source,
        capture_output=True,
        text=True,
        check=True,
    )


def to_result(items: list[dict[str, Any]]) -> GateResult:
    findings = tuple(
        Finding(
            gate="lint",
            rule=item["code"] or "invalid-syntax",
            severity=SEVERITY.get((item["code"] or "F")[0], Severity.LOW),
            path=Path(item["filename"]).as_posix(),
            line=item["location"]["row"],
            column=item["location"]["column"],
            message=item["message"],
            fingerprint=f"{item['filename']}:{item['code']}:{i}",
            url=item.get("url") or "",
        )
        for i, item in enumerate(items)
    )
    return GateResult(
        gate="lint",
        verdict=Verdict.FAILED,
        fail_on=Severity.HIGH,
        findings=findings,
        figures={"files_checked": len({f.path for f in findings})},
        tool_versions={"ruff": "bench"},
        duration=1.0,
    )


def evidence_run(root: Path, results: list[GateResult]) -> EvidenceRun:
    values = {
        "paths": [],
        "exclude": [],
        "fail_on": "high",
        "evidence_dir": "gate-evidence",
        "max_file_size": 10485760,
        "plugins": [],
    }
    gates = {
        "lint": GateSettings("lint", {"enabled": True, "fail_on": "high", "timeout": 600}),
    }
    settings = Settings(root=root, source=root / "pyproject.toml", values=values, gates=gates)
    facts = RunFacts(
        git=GitState(commit="b" * 40, branch="main", dirty=False),
        identity=ci_identity(),
        software=software(),
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:10Z",
        exit_status=0,
        tests={"tests": 1, "failures": 1, "errors": 0, "skipped": 0},
    )
    return EvidenceRun.build(results, settings, facts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--select", default="ALL", help="ruff rules that produce the findings")
    args = parser.parse_args()
    source = corpus()
    files = sum(1 for _ in source.rglob("*.py"))
    items = json.loads(ruff(args.select, "json", source).stdout)
    raw_sarif, _ = timed(lambda: ruff(args.select, "sarif", source), args.runs)
    raw_json, _ = timed(lambda: ruff(args.select, "json", source), args.runs)
    signer = dsse.Signer(Ed25519PrivateKey.generate(), "bench")
    junit = b'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="1"/></testsuites>'

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = evidence_run(root, [to_result(items)])
        target = run.settings.evidence_dir
        compose_s, files_out = timed(lambda: bundle.compose(run, junit, signer), args.runs)
        write_s, _ = timed(lambda: bundle.write(target, root, files_out), args.runs)
        # What a run does: each file written as it is made (bundle.publish).
        total_s, _ = timed(lambda: bundle.publish(target, root, run, junit, signer), args.runs)
        expect = Expectations(
            commit="b" * 40,
            policy_digest=run.settings.digest,
            required=(),  # the gate failed; this times the integrity checks
            key=signer.private.public_key(),
        )
        verify_s, report = timed(lambda: verify(target, expect), args.runs)
        sizes = {p.name: p.stat().st_size for p in target.iterdir()}

        small = evidence_run(root, [to_result([])])
        small_s, _ = timed(lambda: bundle.publish(target, root, small, junit, signer), args.runs)

    say(f"corpus: django 5.2.8, {files} Python files; ruff --select {args.select}")
    say(f"findings in the bundle: {len(items)}")
    say(f"bundle compose (all formats, signed):  {compose_s:7.3f} s")
    say(f"bundle write (write + renames):        {write_s:7.3f} s")
    say(f"bundle publish, a file at a time:      {total_s:7.3f} s")
    say(f"verify (digests, statement, signature):{verify_s:7.3f} s  ok={report.ok}")
    say(f"raw ruff --output-format sarif:        {raw_sarif:7.3f} s")
    say(f"raw ruff --output-format json:         {raw_json:7.3f} s")
    say(f"ratio bundle / raw ruff sarif:         {total_s / raw_sarif:7.2f}x")
    say(f"fixed cost, bundle of a clean gate:    {small_s * 1000:7.1f} ms")
    say("bundle sizes: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sorted(sizes.items())))


if __name__ == "__main__":
    main()
