"""The findings model: fingerprints that survive edits, results that round-trip."""

from __future__ import annotations

import pytest

from pytest_platformgates.model import (
    Analysis,
    Finding,
    GateResult,
    Severity,
    Verdict,
    with_fingerprints,
)


def _finding(line: int, rule: str = "F401") -> Finding:
    return Finding("lint", rule, Severity.HIGH, "a.py", line, "msg")


def test_fingerprint_survives_moved_lines_and_unrelated_edits():
    before = ["import os", "x = 1"]
    after = ["# a new comment", "", "import   os", "x = 2"]
    (a,) = with_fingerprints([_finding(1)], before)
    (b,) = with_fingerprints([_finding(3)], after)
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 32


def test_a_second_identical_finding_gets_its_own_fingerprint():
    lines = ["import os", "import os"]
    first, second = with_fingerprints([_finding(1), _finding(2)], lines)
    assert first.fingerprint != second.fingerprint


def test_fingerprint_depends_on_rule_path_and_gate():
    lines = ["import os"]
    base = with_fingerprints([_finding(1)], lines)[0].fingerprint
    other_rule = with_fingerprints([_finding(1, rule="E401")], lines)[0].fingerprint
    assert base != other_rule


@pytest.mark.parametrize(
    ("severities", "fail_on", "problems", "verdict"),
    [
        ([], Severity.HIGH, (), Verdict.PASSED),
        ([Severity.MEDIUM], Severity.HIGH, (), Verdict.PASSED),
        ([Severity.HIGH], Severity.HIGH, (), Verdict.FAILED),
        ([Severity.CRITICAL], Severity.CRITICAL, (), Verdict.FAILED),
        ([Severity.LOW], Severity.LOW, (), Verdict.FAILED),
        ([], Severity.HIGH, ("tool crashed",), Verdict.ERROR),
        ([Severity.CRITICAL], Severity.HIGH, ("tool crashed",), Verdict.ERROR),
    ],
)
def test_judge_applies_the_severity_policy(severities, fail_on, problems, verdict):
    findings = tuple(Finding("g", "R", s, "a.py", i + 1, "m") for i, s in enumerate(severities))
    result = GateResult.judge("g", Analysis(findings=findings, problems=problems), fail_on, 0.1)
    assert result.verdict is verdict
    assert len(result.blocking) + len(result.reported) == len(findings)


def test_result_round_trips_through_plain_data():
    finding = Finding("g", "R", Severity.LOW, "a.py", 3, "m", column=2, hint="h", url="u")
    result = GateResult.judge(
        "g",
        Analysis(findings=(finding,), figures={"n": 1}, tool_versions={"t": "1"}, notes=("x",)),
        Severity.HIGH,
        0.5,
    )
    assert GateResult.from_dict(result.to_dict()) == result


def test_severity_parsing():
    assert Severity.parse("HIGH") is Severity.HIGH
    assert Severity.CRITICAL > Severity.HIGH > Severity.MEDIUM > Severity.LOW
    with pytest.raises(ValueError, match="unknown severity 'urgent'"):
        Severity.parse("urgent")


def test_from_dict_builds_exactly_what_the_constructor_builds():
    import dataclasses

    full = Finding(
        gate="deps",
        rule="PYSEC-1",
        severity=Severity.CRITICAL,
        path="requirements.txt",
        line=3,
        message="m",
        column=7,
        hint="h",
        fingerprint="f" * 32,
        url="https://example.invalid",
        aliases=("CVE-1", "GHSA-1"),
        waiver={"id": "W-1", "days_left": 3},
        known_debt="baseline",
    )
    bare = Finding(gate="lint", rule="E1", severity=Severity.LOW, path="", line=0, message="")
    for finding in (full, bare):
        loaded = Finding.from_dict(finding.to_dict())
        # Every field, including those equality ignores, with the same types.
        for f in dataclasses.fields(Finding):
            assert getattr(loaded, f.name) == getattr(finding, f.name), f.name
            assert type(getattr(loaded, f.name)) is type(getattr(finding, f.name)), f.name
        assert list(vars(loaded)) == list(vars(finding))  # the same layout, in order
        assert loaded == finding and hash(loaded) == hash(finding)
        with pytest.raises(dataclasses.FrozenInstanceError):
            loaded.line = 1  # type: ignore[misc]
