"""Fake tools on purpose: every way an external tool can misbehave errors the gate.

Each fake is a small shell script standing in for the real executable through the
gate's own tool option (lint's `ruff`, the `python` of deps, licenses and sbom).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

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


def test_a_disk_full_while_writing_evidence_leaves_no_bundle_that_verifies(project):
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("app.py", "VALUE = 1\n")
    project.write("test_app.py", "from app import VALUE\n\n\ndef test_app():\n    assert VALUE\n")
    project.configure({"lint": {"format": False}})
    project.commit()

    def run(limit: int | None) -> subprocess.CompletedProcess[str]:
        def preexec() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past it fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *LEAN, "--gates"],
            cwd=project.path,
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=preexec if limit else None,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_platformgates.cli", "verify", "gate-evidence"],
            cwd=project.path,
            capture_output=True,
            text=True,
            check=False,
        )

    assert run(None).returncode == 0
    assert verify().returncode == 0
    before = {p.name: p.read_bytes() for p in (project.path / "gate-evidence").iterdir()}

    project.write("app.py", "VALUE = 2\n")
    project.commit("fix: another value")
    full = run(4096)  # every report file is larger than this
    assert full.returncode != 0, full.stdout
    assert "evidence NOT written" in full.stdout, full.stdout
    after = {p.name: p.read_bytes() for p in (project.path / "gate-evidence").iterdir()}
    assert after == before  # the previous complete bundle, untouched
    refused = verify()
    assert refused.returncode == 1  # ... and it is of the previous commit
    leftovers = [p.name for p in project.path.iterdir() if ".partial" in p.name]
    assert leftovers == []
