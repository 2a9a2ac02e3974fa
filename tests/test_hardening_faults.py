"""Fake tools on purpose: every way an external tool can misbehave errors the gate.

Each fake is a small shell script standing in for the real executable through the
gate's own tool option (lint's `ruff`, the `python` of deps, licenses and sbom).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deps_support import OsvServer, make_env, osv_server
from ruff.__main__ import find_ruff_bin
from secrets_support import LEAN, detect_secrets_cli
from test_gate_deps_online import configure as configure_deps

VERSION = 'if [ "$1" = --version ]; then echo "ruff 0.17.0"; exit 0; fi\n'
# The gate asks ruff through stdin whether it lints a file: the answer "yes" is a report.
SHOW = (
    'case "$*" in *--stdin-filename=*) echo \'[{"filename": "a.py", "code": "invalid-syntax"}]\';'
    " exit 1;; esac\n"
)


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
        ('echo "ruff 99.0.0"; exit 0\n', "ruff 99.0.0 is a newer major version than"),
        ('echo "ruff version unknown"\n', "cannot read the ruff version"),
        (VERSION + "exit 0\n", "excludes all 1 files"),
    ],
    ids=[
        "garbage",
        "wrong-shape",
        "exit-1-without-findings",
        "crash",
        "killed",
        "newer-major",
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


def test_a_ruff_format_summary_the_gate_cannot_read_is_an_error(project, tmp_path):
    # Which files ruff format looked at comes from its summary line: without one the
    # gate cannot tell a file `[tool.ruff.format] exclude` left out from a formatted one.
    body = VERSION + SHOW + 'case "$*" in *concise*) echo "all good"; exit 0;; esac\necho "[]"\n'
    project.write("a.py", "x = 1\n")
    project.configure({"lint": {"ruff": fake(tmp_path, "ruff", body)}})
    result = project.pytester.runpytest("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ruff format --check printed no summary of the files it checked*"]
    )


@pytest.mark.parametrize(
    ("version", "passes"),
    [("0.99.1", True), ("1.0.0", False), ("1.0.0rc1", False), ("2.3.0", False)],
)
def test_ruff_of_another_major_version_is_refused_before_it_is_run(
    project, tmp_path, version, passes
):
    # The real ruff behind a --version of another release: whether the gate judges
    # depends on the version alone, whatever the output would look like.
    body = f'if [ "$1" = --version ]; then echo "ruff {version}"; exit 0; fi\n'
    body += f'exec "{find_ruff_bin()}" "$@"\n'
    project.write("a.py", "x = 1\n")
    project.configure({"lint": {"format": False, "ruff": fake(tmp_path, "ruff", body)}})
    result = project.pytester.runpytest("--gates-only", *LEAN)
    if passes:
        result.assert_outcomes(passed=1)
        return
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*ruff {version} is a newer major version than this pytest-platformgates "
            "supports (0.9 or later, below 1); install `ruff<1`*"
        ]
    )


def installed_as(site, distribution: str, version: str) -> None:
    """Metadata of ``distribution`` at ``version`` ahead of the real one on sys.path.

    What ``importlib.metadata`` reports is what the gates trust for an in-process tool;
    its code, and the entry points through which it finds its plugins, stay the real ones.
    """
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    info.joinpath("METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    entry_points = importlib.metadata.distribution(distribution).read_text("entry_points.txt")
    info.joinpath("entry_points.txt").write_text(entry_points or "")


@pytest.mark.parametrize(
    ("gate", "distribution", "version", "expected"),
    [
        (
            "sast",
            "bandit",
            "2.0.0",
            "a newer major version than this pytest-platformgates supports (1.8 or later, below 2)",
        ),
        ("sast", "bandit", "1.7.10", "bandit 1.7.10 is older than the supported 1.8"),
        (
            "secrets",
            "detect-secrets",
            "2.1.0",
            "a newer major version than this pytest-platformgates supports (1.5 or later, below 2)",
        ),
        (
            "secrets",
            "detect-secrets",
            "1.4.0",
            "detect-secrets 1.4.0 is older than the supported 1.5",
        ),
        (
            "deps",
            "pip-audit",
            "3.0.0",
            "a newer major version than this pytest-platformgates supports (2.7 or later, below 3)",
        ),
        (
            "coverage",
            "coverage",
            "8.0.0",
            "a newer major version than this pytest-platformgates supports (7.6 or later, below 8)",
        ),
        ("coverage", "coverage", "7.5.4", "coverage 7.5.4 is older than the supported 7.6"),
        (
            "sbom",
            "cyclonedx-python-lib",
            "12.0.0",
            "a newer major version than this pytest-platformgates supports (8 or later, below 12)",
        ),
    ],
    ids=[
        "bandit-newer",
        "bandit-older",
        "detect-secrets-newer",
        "detect-secrets-older",
        "pip-audit-newer",
        "coverage-newer",
        "coverage-older",
        "cyclonedx-python-lib-newer",
    ],
)
def test_an_in_process_tool_of_an_unsupported_version_errors_its_gate(
    project, tmp_path, gate, distribution, version, expected
):
    site = tmp_path / "site"
    installed_as(site, distribution, version)
    project.pytester._monkeypatch.setenv("PYTHONPATH", str(site))
    project.write("a.py", "x = 1\n")
    if gate == "deps":
        env = make_env(tmp_path / "venv", {"idna": "2.7"})
        with osv_server(OsvServer(records=[])) as server:
            configure_deps(project, {"python": env, "osv_url": server.url}, ("idna>=2",))
            result = project.pytester.runpytest_subprocess("--gates-only", *LEAN)
    else:
        project.configure({gate: {}})
        result = project.pytester.runpytest_subprocess("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    assert f"{distribution} {version}" in result.stdout.str()
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


# -- in-process tools: a plugin of theirs that hangs, prints garbage or kills the worker ------

MISBEHAVIOUR = {
    "hang": ("import time; time.sleep(600)", "did not finish within 3 s and was stopped"),
    # Past any redirection of sys.stdout: into the worker's reply.
    "garbage": ("import os; os.write(1, b'not a reply')", "answered something unreadable"),
    "crash": ("import os; os._exit(3)", "exited with code 3"),
}
DETECT_SECRETS_PLUGIN = """
from detect_secrets.plugins.base import BasePlugin


class Misbehaving(BasePlugin):
    secret_type = "Misbehaving"  # pragma: allowlist secret

    def analyze_string(self, string):
        {code}
        return []
"""
BANDIT_PLUGIN = """
from bandit.core import test_properties as test


@test.checks("Call")
@test.test_id("B999")
def misbehaving(context):
    {code}
"""


@pytest.mark.parametrize("how", list(MISBEHAVIOUR))
def test_a_misbehaving_detect_secrets_plugin_errors_the_secrets_gate(project, how):
    # A real plugin loaded by detect-secrets from the baseline, as a project would add one.
    code, expected = MISBEHAVIOUR[how]
    project.write("plugins/misbehaving.py", DETECT_SECRETS_PLUGIN.format(code=code))
    project.write("app.py", "VALUE = 1\n")
    baseline = detect_secrets_cli(["scan", "app.py"], project.path)
    baseline["plugins_used"].append(
        {"name": "Misbehaving", "path": "file://plugins/misbehaving.py"}
    )
    project.write(".secrets.baseline", json.dumps(baseline))
    project.configure({"secrets": {"timeout": 3, "processes": 1}})
    result = project.pytester.runpytest("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    assert expected in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("how", list(MISBEHAVIOUR))
def test_a_misbehaving_bandit_plugin_errors_the_sast_gate(project, tmp_path, how):
    # A real bandit plugin, found by bandit through its entry point as an installed one is.
    code, expected = MISBEHAVIOUR[how]
    site = tmp_path / "site"
    info = site / "misbehaving_bandit-1.0.dist-info"
    info.mkdir(parents=True)
    info.joinpath("METADATA").write_text(
        "Metadata-Version: 2.1\nName: misbehaving-bandit\nVersion: 1.0\n"
    )
    info.joinpath("entry_points.txt").write_text(
        "[bandit.plugins]\nmisbehaving = misbehaving_bandit:misbehaving\n"
    )
    site.joinpath("misbehaving_bandit.py").write_text(BANDIT_PLUGIN.format(code=code))
    if how == "garbage":
        expected = "the bandit worker printed output that is not its report"
    project.pytester._monkeypatch.setenv("PYTHONPATH", str(site))
    project.write("app.py", "print(1)\n")
    project.configure({"sast": {"timeout": 3}})
    result = project.pytester.runpytest_subprocess("--gates-only", *LEAN)
    result.assert_outcomes(errors=1)
    assert expected in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("gate", "missing", "expected"),
    [
        ("sast", ("bandit",), "bandit is not installed: `pip install bandit`"),
        (
            "secrets",
            ("detect_secrets", "detect-secrets"),
            "detect-secrets is not installed: `pip install detect-secrets`",
        ),
    ],
)
def test_an_in_process_tool_that_is_not_installed_errors_its_gate(
    project, tmp_path, gate, missing, expected
):
    # An environment without the tool: this one's site-packages, less the tool's files.
    site = tmp_path / "site"
    site.mkdir()
    for entry in Path(importlib.metadata.distribution("pytest").locate_file("")).iterdir():
        name = entry.name.lower().replace("-", "_")
        if not any(name.startswith(m.replace("-", "_")) for m in missing):
            (site / entry.name).symlink_to(entry)
    project.write("a.py", "x = 1\n")
    project.configure({gate: {}})
    root = Path(__file__).resolve().parents[1]  # this package, installed in editable mode
    run = subprocess.run(
        [sys.executable, "-S", "-m", "pytest", "--gates-only", *LEAN],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{root}"},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert expected in run.stdout, run.stdout
    assert "Traceback" not in run.stdout and "internal error" not in run.stdout
