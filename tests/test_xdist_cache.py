"""The result cache shared by concurrent runs, and partial scans under pytest-xdist."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import COUNTING_GATE, analysed_lines, gate_properties


@pytest.fixture
def many(project):
    project.write("counting_gate.py", COUNTING_GATE)
    project.write(".gitignore", ".analysed.log\n*.xml\n__pycache__/\ngate-evidence*/\n")
    project.configure({"counting": {}}, plugins=["counting_gate"])
    for i in range(200):
        project.write(f"notes/n{i:03}.txt", "FORBIDDEN\n" if i == 7 else f"fine {i}\n")
    project.write("test_one.py", "def test_one():\n    pass\n")
    project.commit("chore: base")
    return project


def _pytest(project, *args: str, version: str = "1.0") -> subprocess.Popen[str]:
    env = {**os.environ, "COUNTING_VERSION": version, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [sys.executable, "-m", "pytest", "-p", "no:hypothesispytest", *args]
    return subprocess.Popen(
        argv, cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_concurrent_runs_in_one_repository_never_corrupt_the_cache(many):
    # Two versions of the tool key different entries: both runs write the same document.
    runs = [
        _pytest(many, "--gates-only", f"--junitxml=run{i}.xml", version=f"{i}.0") for i in (1, 2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    for run, out in zip(runs, outputs, strict=True):
        assert run.returncode == 1, out  # the planted word, found by each
        assert "notes/n007.txt:1" in out and "is corrupt" not in out
    for version in ("1.0", "2.0"):
        check = _pytest(many, "--gates-only", "--junitxml=check.xml", version=version)
        out = check.communicate(timeout=120)[0]
        assert check.returncode == 1 and "notes/n007.txt:1" in out and "is corrupt" not in out
        props = gate_properties(many.path / "check.xml", "counting")
        # Whichever run wrote last, the document read back whole: cached or analysed again.
        assert (
            int(props["gate.figure.files_cached"]) + int(props["gate.figure.files_analysed"]) == 200
        )


pytest.importorskip("xdist")


@pytest.mark.parametrize("workers", ["2", "4"])
def test_a_partial_scan_under_xdist_runs_each_gate_once(many, workers):
    many.git("checkout", "-q", "-b", "feature")
    many.write("notes/n001.txt", "FORBIDDEN now\n")
    run = _pytest(many, "-n", workers, "--gates", "--gates-changed=main")
    out = run.communicate(timeout=120)[0]
    assert run.returncode == 1, out
    assert [line.split()[1] for line in analysed_lines(many)] == ["notes/n001.txt"]
    assert out.count("PARTIAL SCAN: partial scan (--gates-changed): only the 1 file(s)") == 1
    assert "notes/n007.txt" not in out
