"""Hostile and unusual input: every file a gate should judge is judged or named, never passed.

One project holds every kind of awkward file at once and the file gates (lint, sast,
secrets) run over it; each gate's report (the JUnit failure body) must name each file
it could not read. Tests of single gates cover the same ground one case at a time; here
the cases meet, as they do in a real repository.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from secrets_support import LEAN, Secrets

FILE_GATES = ("lint", "sast", "secrets")


def gate_reports(junit: Path) -> dict[str, tuple[str, str]]:
    """``{gate: (outcome, report)}`` from a JUnit file; outcome is passed/failure/error."""
    reports = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.get("classname") != "platformgates":
            continue
        outcome, text = "passed", ""
        for kind in ("failure", "error"):
            element = case.find(kind)
            if element is not None:
                outcome, text = kind, (element.text or "") + element.get("message", "")
        reports[case.get("name", "")] = (outcome, text)
    return reports


def run_gates(project, *args: str) -> tuple[object, dict[str, tuple[str, str]]]:
    result = project.pytester.runpytest("--gates-only", "--junitxml=out/junit.xml", *LEAN, *args)
    assert "Traceback" not in result.stdout.str()
    return result, gate_reports(project.path / "out" / "junit.xml")


def _setup(project, gates=FILE_GATES, **settings) -> None:
    project.write(".gitignore", "out/\ngate-evidence/\n")
    project.configure({g: settings.get(g, {}) for g in gates})


def test_unreadable_sources_are_named_by_every_gate_that_selects_them(project, tmp_path):
    root = project.path
    project.write("good.py", "x = 1\n")
    bad = {
        "latin1.py": b"# caf\xe9\nx = 1\n",
        "mixed.py": "# \u00e9t\u00e9\n".encode() + b"# caf\xe9\nx = 1\n",
        "utf16.py": "x = 1\n".encode("utf-16"),
        "binary.py": bytes(range(256)) * 4,
    }
    for name, data in bad.items():
        project.write(name, data)
    with (root / "big.py").open("wb") as fh:  # sparse: 100 MB in no time and no space
        fh.truncate(100 * 1024 * 1024)
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    outside = tmp_path / "elsewhere.py"
    outside.write_text("eval(input())\n")
    os.symlink(outside, root / "outside.py")
    os.symlink("missing.py", root / "broken.py")
    names = [*bad, "big.py", "loop_a.py", "loop_b.py", "outside.py", "broken.py"]
    _setup(project)
    project.commit()

    result, reports = run_gates(project)
    assert result.ret == 1
    for gate in FILE_GATES:
        outcome, report = reports[gate]
        assert outcome == "failure", gate
        for name in names:
            assert f"{name}" in report, (gate, name)
        assert "good.py" not in report, gate


def test_a_link_to_a_file_the_gate_does_not_check_is_not_a_way_around_it(project):
    # impl.py is what Python imports, but a *.py gate skips links and never selects
    # impl.txt: without a finding the shell injection below would pass sast and lint.
    project.write("impl.txt", "import subprocess\nsubprocess.call(input(), shell=True)\n")
    os.symlink("impl.txt", project.path / "impl.py")
    project.write("vendor/hidden.py", "eval(input())\n")
    os.symlink("vendor/hidden.py", project.path / "app.py")
    project.write("same.py", "x = 1\n")
    os.symlink("same.py", project.path / "alias.py")  # a link to a checked file is fine
    _setup(project, gates=("lint", "sast"))
    pyproject = project.path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[tool.platformgates]\n", '[tool.platformgates]\nexclude = ["vendor"]\n'
        )
    )
    project.commit()

    _, reports = run_gates(project)
    for gate in ("lint", "sast"):
        outcome, report = reports[gate]
        assert outcome == "failure", gate
        assert "impl.py" in report and "a symlink to impl.txt" in report
        assert "app.py" in report and "vendor/hidden.py" in report
        assert "alias.py" not in report


def test_nul_bytes_past_the_sniffed_head_do_not_pass(project):
    # The inventory sniffs the first 8 KiB for NUL; a NUL further on is valid UTF-8
    # text, which ruff and bandit must then refuse rather than read past.
    project.write("late_nul.py", b"x = 1\n" * 2000 + b'y = "\x00"\n')
    _setup(project, gates=("lint", "sast"))
    project.commit()
    _, reports = run_gates(project)
    for gate in ("lint", "sast"):
        outcome, report = reports[gate]
        assert outcome == "failure", gate
        assert "late_nul.py" in report


def test_very_long_lines_and_deep_trees_are_read_to_the_end(project):
    s = Secrets(seed=23)
    aws = s.aws_key()
    deep = "/".join(f"d{i}" for i in range(60))
    filler = "a" * 2_000_000
    project.write(f"{deep}/config.py", f'FILLER = "{filler}"; KEY = "{aws.value}"\n')
    project.write(
        "long.py",
        f'import subprocess\n\nFILLER = "{filler}"; subprocess.call(cmd, shell=True)\n',
    )
    _setup(project, lint={"format": False})
    project.commit()

    result, reports = run_gates(project)
    outcome, report = reports["secrets"]
    assert outcome == "failure" and f"{deep}/config.py:1" in report
    assert "AWS Access Key" in report
    outcome, report = reports["sast"]
    assert outcome == "failure" and "long.py:3" in report and "B602" in report
    outcome, report = reports["lint"]  # ruff reads to the statement after the filler
    assert outcome == "failure" and "long.py:3:2000" in report and "F821" in report
    assert aws.value not in result.stdout.str()


def test_notebooks_are_scanned_for_secrets_and_linted(project):
    s = Secrets(seed=29)
    token = s.github_token()
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["import os\n", f'TOKEN = "{token.value}"\n'],
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    project.write("analysis.ipynb", json.dumps(nb, indent=1))
    project.write("app.py", "x = 1\n")
    _setup(project, gates=("lint", "secrets"), lint={"format": False})
    project.commit()
    result, reports = run_gates(project)
    outcome, report = reports["secrets"]
    assert outcome == "failure" and "analysis.ipynb" in report and "GitHub Token" in report
    outcome, report = reports["lint"]
    assert outcome == "failure" and "analysis.ipynb" in report and "F401" in report
    assert token.value not in result.stdout.str()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"[tool.platformgates\n", "pyproject.toml"),
        (b"[tool.platformgates]\nfail_on = 'high'\x00\n", "pyproject.toml"),
        (b"[tool.platformgates]\nfail_on = 'hgih'\n", "fail_on"),
        (b"[tool.platformgates]\npaths = 'src'\n", "paths"),
        (b"[tool.platformgates.gates.lint]\nenabeld = false\n", "enabeld"),
        (b"[tool.platformgates]\nmax_file_size = -1\n", "max_file_size"),
        (b"[tool.platformgates.gates.lint]\ntimeout = 1e999\n", "timeout"),
    ],
    ids=[
        "unclosed",
        "nul",
        "bad-severity",
        "wrong-type",
        "typo",
        "negative",
        "infinite-timeout",
    ],
)
def test_a_malformed_pyproject_is_a_usage_error_naming_the_problem(project, content, expected):
    project.write("pyproject.toml", content)
    project.write("test_a.py", "def test_a():\n    pass\n")
    result = project.pytester.runpytest(*LEAN)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert expected in output
    assert "Traceback" not in output
    assert "1 passed" not in output
