"""findings.sarif: valid SARIF 2.1.0, shaped for code scanning, fingerprints that survive edits."""

from __future__ import annotations

import json

import jsonschema
import pytest
from evidence_support import DATA, INNER, finding, make_run, probe_project, record

from pytest_platformgates.evidence import sarif
from pytest_platformgates.evidence.provenance import GitState

SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def validate(log: dict) -> None:
    validator = jsonschema.Draft4Validator(
        SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def render(tmp_path, records, **facts) -> dict:
    return json.loads(sarif.render(make_run(tmp_path, records, **facts)))


def test_every_kind_of_result_is_valid_sarif(tmp_path):
    waived = finding(
        "B105",
        "high",
        waiver={
            "id": "B105",
            "reason": "test fixture, not a credential",
            "owner": "team-a",
            "approved_by": "lead",
            "expires": "2031-01-01",
        },
    )
    records = [
        record(
            "lint",
            "failed",
            [
                finding(
                    "F401", "high", column=8, hint="remove the import", url="https://x.test/F401"
                ),
                finding("E501", "low", line=0),
                finding("DEP1", "critical", path="", line=0),
                waived,
            ],
        ),
        record("sast", "error", problems=["bandit crashed: boom"], notes=["cache rebuilt"]),
        record("secrets", "passed"),
    ]
    log = render(tmp_path, records)
    validate(log)
    assert log["version"] == "2.1.0"
    assert [r["tool"]["driver"]["name"] for r in log["runs"]] == [
        "platformgates-lint",
        "platformgates-sast",
        "platformgates-secrets",
    ]


def test_rules_and_results_carry_what_code_scanning_reads(tmp_path):
    records = [
        record(
            "lint",
            "failed",
            [
                finding("F401", "high", column=8, hint="remove it", url="https://x.test/F401"),
                finding("F401", "high", line=9),
                finding("E501", "medium", line=4),
            ],
        )
    ]
    run = render(tmp_path, records)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["version"]
    assert run["tool"]["extensions"] == [{"name": "ruff", "version": "0.0.1"}]
    rules = {r["id"]: r for r in driver["rules"]}
    assert set(rules) == {"F401", "E501"}
    for rule in rules.values():
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    assert rules["F401"]["helpUri"] == "https://x.test/F401"
    first = run["results"][0]
    assert first["ruleId"] == "F401"
    assert driver["rules"][first["ruleIndex"]]["id"] == "F401"
    assert first["level"] == "error"
    assert "remove it" in first["message"]["text"]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pkg/mod.py"
    assert location["region"] == {"startLine": 3, "startColumn": 8}
    assert run["results"][2]["level"] == "warning"
    assert all(r["partialFingerprints"]["platformgates/v1"] for r in run["results"])
    assert run["automationDetails"]["id"] == "platformgates/lint/"


@pytest.mark.parametrize(
    ("url", "help_uri"),
    [
        ("https://x.test/F401", "https://x.test/F401"),
        ("https://x.test/rules?q=a b&v=100%", "https://x.test/rules?q=a%20b&v=100%25"),
        ("https://x.test/r\u00e8gle#%C3%A8", "https://x.test/r%C3%A8gle#%C3%A8"),
        (")", None),  # flawfinder wrote this; GitHub refused the whole upload
        ("javascript:alert(1)", None),
        ("x.test/F401", None),
        ("https://x.test/\ud800", None),
    ],
)
def test_a_help_uri_is_a_uri_code_scanning_accepts_or_left_out(tmp_path, url, help_uri):
    # Rules' URLs come from tools (a third-party SARIF log's helpUri, through the sarif
    # gate): one that is not a URI made the log schema-invalid, and code scanning
    # rejects such a log whole, every other gate's results with it.
    log = render(tmp_path, [record("lint", "failed", [finding(url=url)])])
    validate(log)
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule.get("helpUri") == help_uri


def test_a_waived_finding_carries_a_suppression_with_its_justification(tmp_path):
    waiver = {
        "id": "PYSEC-1",
        "reason": "never follows redirects",
        "owner": "payments",
        "approved_by": "security-lead",
        "expires": "2031-12-31",
    }
    log = render(tmp_path, [record("deps", "passed", [finding("PYSEC-1", "high", waiver=waiver)])])
    validate(log)
    (suppression,) = log["runs"][0]["results"][0]["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["status"] == "accepted"
    assert suppression["justification"] == "never follows redirects"
    assert suppression["properties"]["owner"] == "payments"
    assert suppression["properties"]["expires"] == "2031-12-31"


def test_project_level_findings_point_at_the_configuration(tmp_path):
    log = render(
        tmp_path, [record("deps", "failed", [finding("PYSEC-9", "high", path="", line=0)])]
    )
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pyproject.toml"
    assert location["region"]["startLine"] == 1


def test_uris_are_relative_to_the_repository_and_percent_encoded(tmp_path):
    # A project in a monorepo's subdirectory: code scanning resolves URIs from the
    # repository's root, so the project's directory comes first.
    git = GitState(commit="a" * 40, branch="main", dirty=False, prefix="services/app")
    records = [
        record("lint", "failed", [finding("F401", "high", path="pkg/my mod#1.py")]),
        record("deps", "failed", [finding("PYSEC-9", "high", path="", line=0)]),
    ]
    log = render(tmp_path, records, git=git)
    validate(log)

    def uri(run):
        return run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]

    assert uri(log["runs"][0]) == "services/app/pkg/my%20mod%231.py"
    assert uri(log["runs"][1]) == "services/app/pyproject.toml"
    at_top = render(tmp_path, records[:1])
    assert uri(at_top["runs"][0]) == "pkg/my%20mod%231.py"


def test_a_gate_that_could_not_judge_is_not_a_clean_run(tmp_path):
    log = render(tmp_path, [record("sast", "error", problems=["bandit timed out after 600 s"])])
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"].startswith("bandit")


def test_fingerprints_stay_stable_when_lines_move(project):
    # The real lint gate on a real file: insert lines above the finding and rerun.
    probe_project(project, {}, gates={"lint": {}})
    project.write("pkg/mod.py", "import os\n")
    project.commit()
    project.pytester.runpytest(*INNER)
    before = json.loads((project.path / "gate-evidence" / "findings.sarif").read_text())
    project.write("pkg/mod.py", '"""Docs."""\n\n\nimport os\n')
    project.commit()
    project.pytester.runpytest(*INNER)
    after = json.loads((project.path / "gate-evidence" / "findings.sarif").read_text())
    validate(before)
    validate(after)

    def f401(log):
        (lint,) = [r for r in log["runs"] if r["tool"]["driver"]["name"] == "platformgates-lint"]
        (result,) = [r for r in lint["results"] if r["ruleId"] == "F401"]
        return result

    assert f401(before)["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert f401(after)["locations"][0]["physicalLocation"]["region"]["startLine"] == 4
    assert f401(before)["partialFingerprints"] == f401(after)["partialFingerprints"]


@pytest.mark.parametrize("severity, level", [("critical", "error"), ("low", "note")])
def test_levels_follow_severity(tmp_path, severity, level):
    log = render(tmp_path, [record("lint", "failed", [finding("R", severity)])])
    assert log["runs"][0]["results"][0]["level"] == level
