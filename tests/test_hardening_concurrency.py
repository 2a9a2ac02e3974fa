"""Runs that overlap or stop half-way: the next run's results are correct and complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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
        # Ctrl-C as a terminal delivers it, however this suite was started: a shell's
        # background job (`pytest &`) ignores SIGINT, and a child inherits that.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
        f'if [ -f "{slow}" ] && [ "$1" = check ]; then touch "{started}"; exec sleep 300; fi\n'
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


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is no longer running


@pytest.mark.parametrize(
    "mode",
    [
        ("--gates-only",),  # gates computed in threads of the test process
        ("--gates", "--gates-inline"),  # in the test process's main thread
        ("--gates",),  # in the background process, while the tests run
    ],
    ids=["threads", "inline", "background"],
)
def test_ctrl_c_stops_a_hung_tool_and_its_children_at_once(project, tmp_path, mode):
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("app.py", "VALUE = 1\n")
    project.write("test_app.py", "def test_app():\n    pass\n")
    pids = tmp_path / "pids"
    wrapper = tmp_path / "ruff"
    # A ruff that hangs in a child of its own, far longer than the test waits.
    wrapper.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = check ]; then sleep 600 & echo "$$ $!" > "' + str(pids) + '"; wait; fi\n'
        f'exec "{find_ruff_bin()}" "$@"\n'
    )
    wrapper.chmod(0o755)
    project.configure({"lint": {"format": False, "ruff": str(wrapper), "timeout": 600}})
    project.commit()

    run = _pytest(project.path, *mode)
    deadline = time.monotonic() + 120
    while not pids.exists() or len(pids.read_text().split()) < 2:
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    tool, child = map(int, pids.read_text().split())
    interrupted = time.monotonic()
    run.send_signal(signal.SIGINT)  # what Ctrl-C sends to pytest
    try:
        out = run.communicate(timeout=60)[0]
        took = time.monotonic() - interrupted
        assert run.returncode == 2, out  # pytest's "interrupted"
        assert took < 20, f"the run took {took:.0f} s to stop after Ctrl-C"
        stopped = time.monotonic() + 10
        while (_alive(tool) or _alive(child)) and time.monotonic() < stopped:
            time.sleep(0.1)
        assert not _alive(tool) and not _alive(child), "the hung tool outlived the run"
    finally:
        for pid in (tool, child):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if run.poll() is None:
            run.kill()


HANGING_PLUGIN = """
from detect_secrets.plugins.base import BasePlugin


class Hanging(BasePlugin):
    secret_type = "Hanging"  # pragma: allowlist secret

    def analyze_string(self, string):
        import os, time
        with open({pids!r}, "w") as out:
            out.write(str(os.getpid()))
        time.sleep(600)
        return []
"""


@pytest.mark.parametrize(
    "mode",
    [("--gates-only",), ("--gates", "--gates-inline")],
    ids=["threads", "inline"],
)
def test_ctrl_c_stops_a_hung_worker_of_a_sharded_gate_at_once(project, tmp_path, mode):
    # The secrets gate waits for its detect-secrets workers in threads of its own: a
    # Ctrl-C, which only the main thread sees, must still stop them (process.map_in_threads).
    from secrets_support import detect_secrets_cli

    pids = tmp_path / "pids"
    project.write(".gitignore", "gate-evidence/\n.pytest_cache/\n__pycache__/\n")
    project.write("plugins/hanging.py", HANGING_PLUGIN.format(pids=str(pids)))
    project.write("app.py", "VALUE = 1\n")
    project.write("test_app.py", "def test_app():\n    pass\n")
    baseline = detect_secrets_cli(["scan", "app.py"], project.path)
    baseline["plugins_used"].append({"name": "Hanging", "path": "file://plugins/hanging.py"})
    project.write(".secrets.baseline", json.dumps(baseline))
    project.configure({"secrets": {"timeout": 600, "processes": 2}})
    project.commit()

    run = _pytest(project.path, *mode)
    deadline = time.monotonic() + 120
    while not pids.exists() or not pids.read_text().strip():
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    worker = int(pids.read_text())
    interrupted = time.monotonic()
    run.send_signal(signal.SIGINT)
    try:
        out = run.communicate(timeout=60)[0]
        took = time.monotonic() - interrupted
        assert run.returncode == 2, out
        assert took < 20, f"the run took {took:.0f} s to stop after Ctrl-C"
        stopped = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < stopped:
            time.sleep(0.1)
        assert not _alive(worker), "the hung worker outlived the run"
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
        if run.poll() is None:
            run.kill()


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
