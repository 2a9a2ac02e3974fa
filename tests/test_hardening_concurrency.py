"""Runs that overlap or stop half-way: the next run's results are correct and complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ruff.__main__ import find_ruff_bin

INNER = ("-p", "no:hypothesispytest", "-p", "no:pytest_cov")


def _pytest(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", *INNER, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _clean_project(project) -> None:
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("app.py", "VALUE = 1\n")
    project.write("test_app.py", "from app import VALUE\n\n\ndef test_app():\n    assert VALUE\n")
    project.configure({"lint": {"format": False}, "secrets": {"processes": 1}})
    project.commit()


def test_two_runs_at_once_both_judge_and_leave_one_complete_bundle(project):
    _clean_project(project)
    runs = [_pytest(project.path, "--gates") for _ in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    for output in outputs:
        assert "lint     PASSED" in output and "secrets  PASSED" in output, output
    verify = subprocess.run(
        [sys.executable, "-m", "pytest_platformgates.cli", "verify", "gate-evidence"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    leftovers = [p.name for p in project.path.iterdir() if ".partial" in p.name]
    assert leftovers == []


def test_an_interrupted_run_leaves_the_next_run_correct_and_complete(project, tmp_path):
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("app.py", "import os\n")  # F401: the finding the second run must report
    slow, started = tmp_path / "slow", tmp_path / "started"
    wrapper = tmp_path / "ruff"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ -f "{slow}" ] && [ "$1" = check ]; then touch "{started}"; exec sleep 5; fi\n'
        f'exec "{find_ruff_bin()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    project.configure({"lint": {"format": False, "ruff": str(wrapper)}})
    project.commit()

    slow.touch()
    first = _pytest(project.path, "--gates-only")
    deadline = time.monotonic() + 120
    while not started.exists():
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # Gates-only runs compute gates in threads: the interrupted run still waits for the
    # hung tool (up to its timeout), hence the short sleep above.
    first.send_signal(signal.SIGINT)
    out = first.communicate(timeout=120)[0]
    assert first.returncode != 0, out
    assert "passed" not in out.splitlines()[-1]

    slow.unlink()
    second = _pytest(project.path, "--gates-only", "-rA")
    out = second.communicate(timeout=300)[0]
    assert second.returncode == 1, out
    assert "app.py:1:8" in out and "F401" in out
    leftovers = [p.name for p in project.path.iterdir() if ".partial" in p.name]
    assert leftovers == []
    assert (project.path / "gate-evidence" / "manifest.json").exists()


def test_four_xdist_workers_judge_each_gate_once_and_the_bundle_verifies(project):
    _clean_project(project)
    run = _pytest(project.path, "--gates", "-n", "4", "-p", "xdist")
    output = run.communicate(timeout=300)[0]
    assert run.returncode == 0, output
    assert "lint     PASSED" in output and "secrets  PASSED" in output, output
    verify = subprocess.run(
        [sys.executable, "-m", "pytest_platformgates.cli", "verify", "gate-evidence"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
