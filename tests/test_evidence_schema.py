"""evidence.json's predicate matches the schema published in docs/ (predicate-v1.schema.json).

The schema is what auditors and policy engines program against; a field the writers add
without documenting it, or a finding that grows a field able to carry source text, fails here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from evidence_support import INNER, keypair, probe_project
from test_waivers import waiver_toml

from pytest_platformgates import cli

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "docs" / "predicate-v1.schema.json").read_text("utf-8")
)


def predicate(project) -> dict:
    return json.loads((project.path / "gate-evidence" / "evidence.json").read_text())["predicate"]


def errors(instance: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(instance)]


def test_the_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_run_with_findings_waivers_and_a_baseline_matches_the_schema(
    project, tmp_path, monkeypatch, signed
):
    project.configure(
        {"lint": {"format": False}, "sast": {}},
        extra=waiver_toml(path="pkg/waived.py"),
    )
    project.write("pkg/waived.py", "import os\n")
    project.write("pkg/legacy.py", "import sys\n")
    project.write("pkg/run.py", "import subprocess\n\nsubprocess.call('ls', shell=True)\n")
    project.write("test_ok.py", "def test_ok():\n    assert True\n")
    project.commit("feat: legacy code")
    assert cli.main(["baseline", "--gate", "lint", "--project", str(project.path)]) == 0
    project.write("pkg/new.py", "import json\n")  # new: blocks, beside known debt
    if signed:
        private, _ = keypair(tmp_path)
        monkeypatch.setenv("PLATFORMGATES_SIGNING_KEY", str(private))
    project.pytester.runpytest(*INNER)
    found = predicate(project)
    assert errors(found) == []
    lint = next(g for g in found["gates"] if g["gate"] == "lint")
    kinds = {(f["path"], bool(f.get("waiver")), f.get("known_debt", "")) for f in lint["findings"]}
    assert kinds == {
        ("pkg/waived.py", True, ""),
        ("pkg/legacy.py", False, "baseline"),
        ("pkg/new.py", False, ""),
    }
    assert found["signature"]["signed"] is signed
    assert found["baseline"]["exists"] is True


def test_a_run_on_a_detached_head_or_outside_git_matches_the_schema(project, monkeypatch):
    # git checkout SHA, git bisect, a CI the provenance does not know: no branch to name;
    # outside a repository, no commit either. Both are documented as `string | null`.
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BUILDKITE_BRANCH"):
        monkeypatch.delenv(name, raising=False)
    probe_project(project, {})
    project.git("checkout", "-q", "--detach")
    project.pytester.runpytest(*INNER)
    detached = predicate(project)
    assert detached["git"]["branch"] is None
    assert detached["git"]["commit"] == project.git("rev-parse", "HEAD").strip()
    assert errors(detached) == []
    shutil.rmtree(project.path / ".git")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(project.path.parent))
    project.pytester.runpytest(*INNER)
    outside = predicate(project)
    assert (outside["git"]["commit"], outside["git"]["branch"]) == (None, None)
    assert errors(outside) == []


def test_the_schema_refuses_a_finding_that_carries_source_text():
    finding = {
        "gate": "secrets",
        "rule": "AWSKeyDetector",
        "severity": "critical",
        "path": "a.py",
        "line": 1,
        "column": 0,
        "message": "AWS access key",
        "hint": "",
        "fingerprint": "0" * 32,
        "url": "",
    }
    schema = {"$ref": "#/$defs/finding", "$defs": SCHEMA["$defs"]}
    jsonschema.validate(finding, schema)
    with pytest.raises(jsonschema.ValidationError, match="source"):
        jsonschema.validate({**finding, "source": "key = 'AKIA…'"}, schema)
