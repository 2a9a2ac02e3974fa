"""Fake tools on purpose: every way an external tool can misbehave errors the gate.

Each fake is a small shell script standing in for the real executable through the
gate's own tool option (lint's `ruff`, the `python` of deps, licenses and sbom).
"""

from __future__ import annotations

import pytest
from secrets_support import LEAN

VERSION = 'if [ "$1" = --version ]; then echo "ruff 0.17.0"; exit 0; fi\n'
SHOW = 'if [ "$2" = --show-files ]; then echo a.py; exit 0; fi\n'


def fake(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (VERSION + SHOW + "echo 'not json'\nexit 1\n", "not its JSON report"),
        (VERSION + SHOW + "echo '{\"a\": 1}'\nexit 1\n", "not its JSON report"),
        (VERSION + SHOW + "echo '[]'\nexit 1\n", "reported no violation"),
        (VERSION + SHOW + "echo boom >&2\nexit 2\n", "exited with code 2"),
        (VERSION + SHOW + "kill -9 $$\n", "exited with code -9"),
        ('echo "ruff 99.0.0"; exit 0\n', "ruff"),
        ('echo "ruff version unknown"\n', "cannot read the ruff version"),
        (VERSION + "exit 0\n", "excludes all 1 files"),
    ],
    ids=[
        "garbage",
        "wrong-shape",
        "exit-1-without-findings",
        "crash",
        "killed",
        "newer-major-speaking-another-format",
        "unreadable-version",
        "lists-no-files",
    ],
)
def test_a_misbehaving_ruff_errors_the_lint_gate(project, tmp_path, body, expected):
    project.write("a.py", "x = 1\n")
    project.configure({"lint": {"format": False, "ruff": fake(tmp_path, "ruff", body)}})
    result = project.pytester.runpytest("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    assert expected in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("gate", ["licenses", "sbom", "deps"])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("sleep 30\n", "2 s"),
        ("echo 'not json'\n", ""),
        ("echo oops >&2\nexit 3\n", ""),
    ],
    ids=["hang", "garbage", "crash"],
)
def test_a_misbehaving_interpreter_errors_the_environment_gates(
    project, tmp_path, gate, body, expected
):
    python = fake(tmp_path, "python", body)
    settings = {"python": python, "timeout": 2}
    if gate == "deps":
        settings["database"] = "osv:db"
        project.write("db/PYSEC-0000-1.json", '{"id": "PYSEC-0000-1", "affected": []}')
    project.write("a.py", "x = 1\n")
    project.configure({gate: settings})
    result = project.pytester.runpytest("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    assert expected in result.stdout.str()
    assert "Traceback" not in result.stdout.str()
